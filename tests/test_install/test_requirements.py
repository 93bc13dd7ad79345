"""Packaging: aigcmatch installs into an environment of its own kind.

``install_requires`` holds ranges (``requirements/runtime.txt``), the tested
pins live in ``requirements/constraints.txt`` (tools/env.sh's lock), medpy is
a test requirement only, and pip resolves the package together with older
numpy/scipy releases than the lock's."""
import configparser
import json
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REQ = osp.join(ROOT, 'requirements')


def read_requirements(name):
    with open(osp.join(REQ, name)) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [Requirement(line) for line in lines if line]


def locked():
    return {
        canonicalize_name(r.name): next(iter(r.specifier)).version
        for r in read_requirements('constraints.txt')
    }


def test_setup_cfg_reads_the_requirement_files():
    cfg = configparser.ConfigParser()
    cfg.read(osp.join(ROOT, 'setup.cfg'))
    assert cfg['options']['install_requires'].strip() == \
        'file: requirements/runtime.txt'
    assert cfg['options.extras_require']['tests'].strip() == \
        'file: requirements/tests.txt'
    # what pip resolves for 3.9 and 3.10 (numpy 2.0 / 2.2, scipy 1.13 / 1.15)
    assert SpecifierSet(cfg['options']['python_requires']).contains('3.9')


@pytest.mark.parametrize('name', ['runtime.txt', 'tests.txt',
                                  'mmcv_lite.txt'])
def test_requirements_are_ranges_that_admit_the_lock(name):
    pins = locked()
    for req in read_requirements(name):
        operators = {spec.operator for spec in req.specifier}
        # an exact pin in install_requires makes pip refuse any environment
        # with another version (ResolutionImpossible)
        assert not operators & {'==', '==='}, f'{name}: {req} is a pin'
        version = pins.get(canonicalize_name(req.name))
        assert version is not None, f'{req.name} is not in constraints.txt'
        assert req.specifier.contains(version, prereleases=True), \
            f'{name}: {req} excludes the tested {version}'


def test_medpy_is_a_test_requirement_only():
    runtime = {canonicalize_name(r.name)
               for r in read_requirements('runtime.txt')}
    tests = {canonicalize_name(r.name) for r in read_requirements('tests.txt')}
    assert 'medpy' not in runtime and 'medpy' in tests


def _offline(text: str) -> bool:
    return any(sign in text for sign in (
        'NewConnectionError', 'Temporary failure in name resolution',
        'Network is unreachable', 'Could not fetch URL',
        'No matching distribution found for setuptools'))


def test_resolves_with_older_numpy_and_scipy(tmp_path):
    # a copy of what the build reads: building metadata writes an egg-info
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.cfg', 'setup.py', 'pyproject.toml', 'README.md'):
        shutil.copy(osp.join(ROOT, name), src / name)
    shutil.copytree(REQ, src / 'requirements')
    shutil.copytree(
        osp.join(ROOT, 'projects'), src / 'projects',
        ignore=shutil.ignore_patterns('__pycache__', '*.pyc', 'splits'))
    report = tmp_path / 'report.json'
    proc = subprocess.run([
        sys.executable, '-m', 'pip', 'install', '--dry-run',
        '--ignore-installed', '--disable-pip-version-check', '--quiet',
        '--report', str(report), f'{src}[tests]', 'numpy==1.26.4',
        'scipy==1.11.1'
    ], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and _offline(proc.stdout + proc.stderr):
        pytest.skip('no package index reachable: ' + proc.stderr[-300:])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    chosen = {
        canonicalize_name(item['metadata']['name']):
        item['metadata']['version']
        for item in json.loads(report.read_text())['install']
    }
    assert chosen['numpy'] == '1.26.4' and chosen['scipy'] == '1.11.1'
    assert chosen['aigcmatch'] and chosen['mmsegmentation'].startswith('1.2.')
    assert 'medpy' in chosen  # through the tests extra


def test_wheel_ships_tools_and_configs_where_mim_looks(tmp_path):
    # mim train/test <package> run <site-packages>/<top-level module>/.mim/
    # tools/{train,test}.py and find configs by name under .mim/configs
    import zipfile
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.cfg', 'setup.py', 'pyproject.toml', 'README.md'):
        shutil.copy(osp.join(ROOT, name), src / name)
    for name in ('requirements', 'projects', 'tools', 'configs'):
        shutil.copytree(osp.join(ROOT, name), src / name,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    proc = subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '--disable-pip-version-check', '--quiet',
        '-w', str(tmp_path / 'dist'), str(src)
    ], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel, = (tmp_path / 'dist').glob('aigcmatch-*.whl')
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        top_level = next(z.read(n).decode() for n in names
                         if n.endswith('top_level.txt'))
    assert top_level.split() == ['projects']
    for path in ('tools/train.py', 'tools/test.py', 'tools/infer.py',
                 'configs/aigcmatch_acdc_7case.py',
                 'configs/_base_/default_runtime.py'):
        assert f'projects/.mim/{path}' in names, path
    assert 'projects/aigcmatch/engine/runner.py' in names
