"""Run the routing service alone: `python -m services.routing` (settings from OMBUD_* variables)."""

from services.system import serve
from shared.settings import Settings

if __name__ == "__main__":
    serve(["routing"], Settings())
