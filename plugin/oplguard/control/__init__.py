"""The local control socket: a running service answers ``log-level``, ``trace`` and ``status``."""
