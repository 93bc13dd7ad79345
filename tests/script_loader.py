"""Load one of the repository's scripts (``tools/``, ``benchmarks/``) as a
module, so tests can call its functions. Importable from every test folder:
pytest puts ``tests/`` on ``sys.path`` for the root conftest."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_script(path: str, with_siblings: bool = False) -> ModuleType:
    """The script at ``path`` (relative to the repository root), executed
    as a module named after its file. ``with_siblings`` puts the script's
    folder on ``sys.path`` first, for scripts that import their neighbours.
    """
    full = osp.join(ROOT, path)
    if with_siblings and osp.dirname(full) not in sys.path:
        sys.path.insert(0, osp.dirname(full))
    name = osp.splitext(osp.basename(full))[0]
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
