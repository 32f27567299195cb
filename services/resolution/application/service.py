"""The resolution service: one Application composed of its three lines of work, each in its own module."""

from __future__ import annotations

from services.resolution.application.cases import CASE_REACTIONS, CaseWork
from services.resolution.application.recalls import RECALL_REACTIONS, Recalls
from services.resolution.application.returns import RETURN_REACTIONS, Returns
from shared.clock import Clock
from shared.eventstore import ServiceApplication
from shared.masterdata import MasterData
from shared.settings import Settings


class ResolutionService(CaseWork, Returns, Recalls, ServiceApplication):
    """Investigation, remedies with approvals, returns and recalls: one store, one policy consumer."""

    name = "resolution"
    reactions = {**CASE_REACTIONS, **RETURN_REACTIONS, **RECALL_REACTIONS}

    def __init__(self, settings: Settings, clock: Clock, master_data: MasterData | None = None) -> None:
        super().__init__(settings, clock)
        self.master = master_data or MasterData.load(settings.master_data_dir)
        self.init_cases()
        self.init_returns()
        self.init_recalls()
