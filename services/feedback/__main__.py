"""Run the feedback service alone: `python -m services.feedback` (settings from OMBUD_* variables)."""

from services.system import serve
from shared.settings import Settings

if __name__ == "__main__":
    serve(["feedback"], Settings())
