"""The mail server's asyncio shells: listeners around the protocol cores."""
