"""Run the intake service alone: `python -m services.intake` (settings from OMBUD_* variables)."""

from services.system import serve
from shared.settings import Settings

if __name__ == "__main__":
    serve(["intake"], Settings())
