"""Coverage-guided fuzzing with atheris (longer runs than the property tests)."""
