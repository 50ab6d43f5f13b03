"""The phone app's entry point, for `flet build apk` ([tool.flet.app] in pyproject.toml)."""

from fieldapp.app import run_phone

if __name__ == "__main__":
    run_phone()
