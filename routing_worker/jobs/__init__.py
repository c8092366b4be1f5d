"""Job modules: importing this package registers every task and cron with `routing_worker.tasks`."""

import importlib
import pkgutil


def load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
