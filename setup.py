"""Packaging (metadata in setup.cfg); the build adds what ``mim`` looks for.

``mim train aigcmatch CONFIG`` / ``mim test aigcmatch CONFIG`` run
``<site-packages>/<top-level package>/.mim/tools/{train,test}.py`` and find a
config by its name under ``.mim/configs`` (OpenMMLab's convention; mmseg
ships ``mmseg/.mim`` the same way). The build copies ``tools/`` and
``configs/`` there, into the built package only: the checkout is not touched.
"""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
#: ``mim`` resolves the package to its first top-level module: ``projects``.
MIM_DIR = osp.join('projects', '.mim')


class BuildPyWithMim(build_py):
    """``build_py`` that also writes ``projects/.mim/{tools,configs}``."""

    def run(self):
        super().run()
        if self.editable_mode:
            # an editable install has no package folder of its own: run the
            # tools from the checkout (docs/install.md)
            return
        target = osp.join(self.build_lib, MIM_DIR)
        for name in ('tools', 'configs'):
            src, dst = osp.join(ROOT, name), osp.join(target, name)
            if osp.isdir(dst):
                shutil.rmtree(dst)
            shutil.copytree(
                src, dst,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        os.makedirs(target, exist_ok=True)


setup(cmdclass={'build_py': BuildPyWithMim})
