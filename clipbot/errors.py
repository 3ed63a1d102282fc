"""One error base for clipbot; every subclass carries a message that is safe to show a user."""


class ClipbotError(Exception):
    """Base of clipbot's errors. ``str(error)`` is written for the person who asked."""


class ConfigError(ClipbotError):
    """A setting is missing or wrong; the message names the environment variable."""


class InvalidRequest(ClipbotError):
    """The user's command or options cannot be turned into a clip request."""


class PromptBlocked(ClipbotError):
    """Moderation refused the prompt; the message is the user-facing reason."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = reason


class LimitReached(ClipbotError):
    """A per-user limit (jobs in flight or daily quota) would be exceeded."""


class NotAllowed(ClipbotError):
    """The user may not act on this job (e.g. cancel someone else's clip)."""


class UnknownJob(ClipbotError):
    """No job is known for this message or number (expired or never existed)."""


class QueueUnavailable(ClipbotError):
    """Redis cannot be reached."""


class GenerationFailed(ClipbotError):
    """The worker could not render or encode the clip."""


class JobCancelled(ClipbotError):
    """Raised inside a render when the job was cancelled; stops the pipeline between steps."""
