"""Fetch a real labelled brain MRI from Debian and convert it to the h5 layout.

The Colin27 T1 MRI and its hand-drawn AAL atlas come from Debian's package
``mricron-data`` (16 MB, BSD-3-Clause); the AAL regions are grouped into
cortex / deep grey nuclei / cerebellum and the brain is cut into sagittal
slabs that play the role of cases (``projects/aigcmatch/datasets/
colin27_aal.py`` says how, and docs/benchmark.md why). Output: the
SSL4MIS/UniMatch layout under ``--out`` with ``splits/{labeled,unlabeled,
val,test}.txt``; ``configs/benchmark/_base_/colin27_aal.py`` reads it.

Where the files come from, first match wins:
    --templates DIR   a folder holding ch2.nii.gz and aal.nii.gz
    --deb FILE        a downloaded mricron-data .deb (extracted with dpkg-deb)
    /usr/share/mricron/templates   (after `apt-get install mricron-data`)
    otherwise `apt-get download mricron-data=VERSION` into --cache, then
    `dpkg-deb -x` (Debian/Ubuntu; no root needed)

Example:
    python tools/dataset_converters/colin27_aal_to_h5.py --out data/colin27_aal
"""
import argparse
import hashlib
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.aigcmatch.utils import UserError, run_tool  # noqa: E402

PACKAGE = 'mricron-data'
#: The Debian version the benchmark numbers were measured with.
VERSION = '1.2.20211006+dfsg-4'
INSTALLED = '/usr/share/mricron/templates'
#: The two files used and their SHA-256 in that version: other files get a
#: warning (numbers measured on them are not comparable with ours).
MEMBERS = {
    'ch2.nii.gz': 'a009051127f64dc3dd554d5f5b589870ea72106d9642c21b4e7093e478cfc309',
    'aal.nii.gz': 'b512dcd3f36b77f56be7a9a038134096e66314b7e8c31d25875b96bcf6991454',
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[1:]))
    parser.add_argument(
        '--out', default='data/colin27_aal', help='ROOT of the h5 layout')
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        '--templates', help='folder holding ch2.nii.gz and aal.nii.gz')
    source.add_argument('--deb', help=f'a downloaded {PACKAGE} .deb file')
    parser.add_argument(
        '--cache',
        default=osp.join(
            os.environ.get('XDG_CACHE_HOME', osp.expanduser('~/.cache')),
            'aigcmatch', 'downloads'),
        help='where the .deb is downloaded and extracted')
    parser.add_argument('--block', type=int, default=4,
                        help='sagittal slices per slab (case)')
    parser.add_argument('--gap', type=int, default=2,
                        help='slices left out between slabs')
    parser.add_argument('--num-labeled', type=int, default=2,
                        help='labeled slabs')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUT/data and OUT/splits')
    return parser.parse_args(argv)


def _has_members(folder: str) -> bool:
    return all(osp.isfile(osp.join(folder, m)) for m in MEMBERS)


def _extract(deb: str, cache: str) -> str:
    if not osp.isfile(deb):
        raise UserError(f'--deb "{deb}": file not found')
    if shutil.which('dpkg-deb') is None:
        raise UserError(
            f'extracting {deb} needs dpkg-deb (Debian/Ubuntu); elsewhere '
            'extract ch2.nii.gz and aal.nii.gz from it yourself and pass '
            '--templates DIR')
    root = osp.join(cache, osp.basename(deb)[:-len('.deb')])
    templates = osp.join(root, INSTALLED.lstrip('/'))
    if not _has_members(templates):
        os.makedirs(root, exist_ok=True)
        done = subprocess.run(['dpkg-deb', '-x', deb, root],
                              capture_output=True, text=True)
        if done.returncode or not _has_members(templates):
            raise UserError(
                f'{deb}: dpkg-deb could not extract {", ".join(MEMBERS)} '
                f'({done.stderr.strip() or "not in the package"}); expected '
                f'a {PACKAGE} package')
    return templates


def _download(cache: str) -> str:
    os.makedirs(cache, exist_ok=True)
    deb = osp.join(cache, f'{PACKAGE}_{VERSION.replace(":", "%3a")}_all.deb')
    if osp.isfile(deb):
        return deb
    if shutil.which('apt-get') is None:
        raise UserError(
            f'no {PACKAGE} files found and apt-get is not available: download '
            f'{PACKAGE} {VERSION} from https://packages.debian.org and pass '
            '--deb FILE, or pass --templates DIR')
    print(f'[colin27_aal] downloading {PACKAGE}={VERSION} (16 MB) into '
          f'{cache}', flush=True)
    done = subprocess.run(['apt-get', 'download', f'{PACKAGE}={VERSION}'],
                          cwd=cache, capture_output=True, text=True)
    if done.returncode or not osp.isfile(deb):
        raise UserError(
            f'apt-get download {PACKAGE}={VERSION} failed: '
            f'{(done.stderr.strip().splitlines() or ["no output"])[-1]}; '
            'check the apt sources (run apt-get update) or pass --deb FILE')
    return deb


def locate_templates(args) -> str:
    """Folder holding ch2.nii.gz and aal.nii.gz, fetched if needed."""
    if args.templates:
        if not _has_members(args.templates):
            raise UserError(f'--templates "{args.templates}": expected '
                            f'{" and ".join(MEMBERS)} in it')
        return args.templates
    if args.deb:
        return _extract(args.deb, args.cache)
    if _has_members(INSTALLED):
        return INSTALLED
    return _extract(_download(args.cache), args.cache)


def main(argv=None) -> int:
    args = parse_args(argv)
    from projects.aigcmatch.datasets.colin27_aal import build_colin27_aal

    start = time.time()
    templates = locate_templates(args)
    image, atlas = (osp.join(templates, m) for m in MEMBERS)
    summary = build_colin27_aal(
        image,
        atlas,
        args.out,
        block=args.block,
        gap=args.gap,
        num_labeled=args.num_labeled,
        overwrite=args.overwrite)
    for name in MEMBERS:
        with open(osp.join(templates, name), 'rb') as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != MEMBERS[name]:
            print(f'warning: {osp.join(templates, name)} differs from the '
                  f'{PACKAGE} {VERSION} file the documented numbers were '
                  f'measured on (sha256 {digest[:16]}...)', file=sys.stderr)
    counts = {k: len(v) for k, v in summary['splits'].items()}
    print(f"[colin27_aal] {summary['num_slabs']} slabs of {args.block} "
          f"sagittal slices (gap {args.gap}) from {templates} "
          f'-> '
          f'{osp.join(args.out, "data")} in {time.time() - start:.1f} s; '
          f'splits {counts} in {osp.join(args.out, "splits")}')
    return 0


if __name__ == '__main__':
    run_tool(main)
