"""Run the resolution service alone: `python -m services.resolution` (settings from OMBUD_* variables)."""

from services.system import serve
from shared.settings import Settings

if __name__ == "__main__":
    serve(["resolution"], Settings())
