"""The web console served by the gateway at ``/_smlocal/`` (see ``app.py`` and docs/console.md)."""
