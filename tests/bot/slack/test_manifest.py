"""The app manifest in deploy/ asks Slack for what the adapter handles and calls, no more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from clipbot.bot.slack_app import SLASH_COMMAND

MANIFEST = Path(__file__).parents[3] / "deploy" / "slack-manifest.yml"


def load() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return manifest


def test_the_manifest_subscribes_to_the_handled_events_with_their_scopes_only() -> None:
    manifest = load()
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "reaction_added",
    ]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",  # app_mention
        "reactions:read",  # reaction_added
        "chat:write",  # status, result and ephemeral messages
        "commands",  # /video
        "files:write",  # upload v2 and files.delete
        "files:read",  # files.info, to link the clip's own message
    }


def test_the_manifest_declares_the_slash_command_buttons_and_socket_mode() -> None:
    manifest = load()
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [SLASH_COMMAND]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
