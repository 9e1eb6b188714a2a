"""The ``oplguard`` subcommands, one module each: ``register(subparsers)`` adds its parser,
``run(args)`` does the work and returns the exit code.  ``cli.py`` assembles them.

Pure helpers stay in the package they belong to (rendering in ``policy/`` and
``tracking/``, the control socket client in ``control/``); nothing outside this
package and ``cli.py`` imports a module of it.
"""
