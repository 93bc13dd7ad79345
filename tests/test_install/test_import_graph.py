"""The package's modules import each other without loops.

A loop (a imports b, b imports a, even inside a function) makes the import
order matter: whichever module is imported first sees the other half
initialised. The graph is read from the source (every ``import`` anywhere in
a module, deferred ones included), so a new loop fails here before it fails
for a user who happens to import the modules in the other order.
"""
import ast
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGE = 'projects.aigcmatch'


def package_modules(root=ROOT, package=PACKAGE):
    """Dotted module name -> file, for every ``.py`` of the package."""
    modules = {}
    top = osp.join(root, *package.split('.'))
    for dirpath, _, files in os.walk(top):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = osp.join(dirpath, name)
            dotted = osp.relpath(path, root)[:-3].replace(os.sep, '.')
            if dotted.endswith('.__init__'):
                dotted = dotted[:-len('.__init__')]
            modules[dotted] = path
    return modules


def _imported(node, module, is_package):
    """Dotted names an import statement of ``module`` may refer to."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    parts = module.split('.') if is_package else module.split('.')[:-1]
    if node.level:
        parts = parts[:len(parts) - (node.level - 1)]
        base = '.'.join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ''
    # ``from pkg import sub`` imports the submodule when there is one.
    return [base] + [f'{base}.{alias.name}' for alias in node.names]


def import_graph(modules):
    """Module -> the package modules it imports (``from p import sub`` is an
    edge to ``p.sub`` alone when ``sub`` is a module)."""
    graph = {}
    for module, path in modules.items():
        is_package = path.endswith('__init__.py')
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        edges = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = _imported(node, module, is_package)
            subs = [n for n in names[1:] if n in modules]
            targets = subs if subs and isinstance(node, ast.ImportFrom) \
                else [n for n in names if n in modules]
            edges.update(t for t in targets if t != module)
        graph[module] = edges
    return graph


def loops(graph):
    """Strongly connected components with more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_finder_sees_a_loop(tmp_path):
    pkg = tmp_path / 'projects' / 'aigcmatch'
    (pkg / 'sub').mkdir(parents=True)
    (tmp_path / 'projects' / '__init__.py').write_text('')
    (pkg / '__init__.py').write_text('')
    (pkg / 'sub' / '__init__.py').write_text('from .a import f\n')
    (pkg / 'sub' / 'a.py').write_text('def f():\n    from .b import g\n')
    (pkg / 'sub' / 'b.py').write_text('from .a import f\n')
    (pkg / 'c.py').write_text('from .sub import f\n')
    modules = package_modules(str(tmp_path))
    assert loops(import_graph(modules)) == [[
        'projects.aigcmatch.sub.a', 'projects.aigcmatch.sub.b']]


def test_package_has_no_import_loop():
    modules = package_modules()
    assert len(modules) > 50  # the walk found the package
    found = loops(import_graph(modules))
    assert not found, (
        'modules that import each other (directly or through others; break '
        'the loop by moving the shared code, or look the class up in a '
        f'registry): {found}')
