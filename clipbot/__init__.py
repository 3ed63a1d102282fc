"""clipbot: a self-hosted Discord and Slack bot that turns a prompt into a short video clip."""

__version__ = "0.1.0"
