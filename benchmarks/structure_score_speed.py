"""Speed of the challenge score: region counting per image, and the scorer end
to end.

Example::

    python benchmarks/structure_score_speed.py --num 1000 --submission-num \
        999

1. Region counting: real-sized cases (1024x1024 predicted masks with a few
   blobs, GT stored at 512x512 as in gt.pkl), checked to give identical counts,
   milliseconds per image against the literal per-pair scorer of
   ``tests/test_evaluation/test_functional/scorer_reference.py`` (two full
   canvases per region pair), in the same process on the same masks.
2. End to end: a submission of ``--submission-num`` masks at assorted original
   sizes (~20% empty) and a 512x512 gt.pkl are written to a temporary folder;
   the released scorer's procedure
   (``benchmarks/released_scorer_procedure.py``, on the extracted
   ``output.pkl`` as the challenge server runs it) and
   ``tools/evaluate_submission.py`` (on the same ``output.pkl`` and on the zip)
   run as whole processes, medians of ``--repeat-process`` runs; peak memory is
   the largest process's peak RSS (``wait4``, the largest of the process and
   its workers; the files are written by a child so that this process stays
   small) and, in two more runs, the process tree's peak PSS (the total that
   counts with forked workers), sampled every 10 ms with the tree stopped.
   Both print the same lines (checked). The computation alone
   is timed with the files already loaded, each side in a fresh process of
   its own (one untimed run first), and gives the same numbers to the last
   bit (checked).
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import pickle
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile

import cv2
import numpy as np

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)


def _load_path(name, *parts):
    spec = importlib.util.spec_from_file_location(name, osp.join(*parts))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The scorer's modules without the torch stack, as tools/evaluate_submission.py
# loads them.
_load_path('struct_det_light_import',
           osp.dirname(importlib.util.find_spec('struct_det').origin),
           'light_import.py').import_light('struct_det.evaluation.submission')
from struct_det.evaluation.functional import (MaskRegions, can_fork,
                                              image_region_counts,
                                              match_regions, pred_min_area,
                                              resolve_workers)
from struct_det.evaluation.submission import (format_readme, restricted_load,
                                              validate_and_score)

EVALUATE = osp.join(_REPO, 'tools', 'evaluate_submission.py')
RELEASED = osp.join(_REPO, 'benchmarks', 'released_scorer_procedure.py')
# (height, width) of EvalMuse images and how often they occur (the spec: ~94%
# square).
ORIGINAL_SIZES = (((1024, 1024), 0.94), ((576, 1024), 0.015),
                  ((1024, 576), 0.015), ((768, 1024), 0.01),
                  ((1024, 768), 0.01), ((512, 512), 0.005), ((682, 1024),
                                                             0.005))


def _load_reference():
    return _load_path('scorer_reference', _REPO, 'tests', 'test_evaluation',
                      'scorer_reference.py')


def _blobs(rng, mask, n, radius):
    size = mask.shape[0]
    for _ in range(n):
        centre = tuple(
            int(v) for v in rng.integers(radius[1], size - radius[1], 2))
        axes = tuple(int(v) for v in rng.integers(radius[0], radius[1], 2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1,
                    -1)
    return mask


def make_cases(num, seed, blobs=(0, 4), extra=(0, 3), size=1024):
    """Pairs of (1024x1024 prediction, 512x512 GT) with a few distortion blobs
    each.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(num):
        gt = _blobs(rng, np.zeros((size, size), np.uint8),
                    int(rng.integers(*blobs)), (15, 120))
        # A prediction: the GT blobs shifted and grown or shrunk, false
        # positives, specks.
        shift = tuple(int(v) for v in rng.integers(-25, 25, 2))
        pred = np.roll(gt, shift, axis=(0, 1))
        pred = (cv2.dilate if rng.random() < 0.5 else cv2.erode)(pred,
                                                                 np.ones(
                                                                     (9, 9),
                                                                     np.uint8))
        pred = _blobs(rng, pred, int(rng.integers(*extra)), (15, 100))
        pred = _blobs(rng, pred, int(rng.integers(0, 4)), (2, 8))
        gt512 = (cv2.resize(gt, (512, 512)) > 0).astype(np.uint8)
        cases.append((pred, gt512))
    return cases


def _time(fn, cases, repeat):
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        out = [fn(p, g) for p, g in cases]
        best = min(best, time.perf_counter() - start)
    return best / len(cases) * 1e3, out


def _unavoidable(pred, gt512):
    pred512 = cv2.resize(pred, (512, 512))
    cv2.threshold(pred512, 0, 1, cv2.THRESH_BINARY, dst=pred512)
    for mask in (pred512, gt512):
        cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return (cv2.countNonZero(pred512), cv2.countNonZero(gt512),
            cv2.countNonZero(cv2.bitwise_and(pred512, gt512)))


def _stage_ours(pred512, gt512):
    return match_regions(
        MaskRegions(pred512, pred_min_area()), MaskRegions(gt512, 150.0))


def make_submission_files(folder, num, seed=0, empty=0.2):
    """A submission (``output.pkl``, ``submission.zip``) and its ``gt.pkl`` in
    ``folder``.

    GT: 0-3 blobs at 512x512 (~20% clean). Predictions at the image's original
    size: the GT blobs resized there, shifted and grown or shrunk, plus false
    positives and specks; ``empty`` of them are empty. Scores follow the MOS
    with noise.

    Returns:
        dict: paths ``pkl``, ``zip``, ``gt``.
    """
    rng = np.random.default_rng(seed)
    sizes = [s for s, _ in ORIGINAL_SIZES]
    probs = np.array([p for _, p in ORIGINAL_SIZES])
    preds, gts = {}, {}
    for index in range(num):
        key = f'{index:032x}'
        height, width = sizes[rng.choice(len(sizes), p=probs / probs.sum())]
        gt = _blobs(rng, np.zeros((512, 512), np.uint8),
                    0 if rng.random() < 0.2 else int(rng.integers(1, 4)),
                    (8, 60))
        if rng.random() < empty:
            pred = np.zeros((height, width), np.uint8)
        else:
            pred = cv2.resize(
                gt, (width, height), interpolation=cv2.INTER_NEAREST)
            pred = np.roll(
                pred,
                tuple(int(v) for v in rng.integers(-25, 25, 2)),
                axis=(0, 1))
            pred = (cv2.dilate if rng.random() < 0.5 else cv2.erode)(
                pred, np.ones((9, 9), np.uint8))
            pred = _blobs_wh(rng, pred, int(rng.integers(0, 3)), (15, 100))
            pred = _blobs_wh(rng, pred, int(rng.integers(0, 4)), (2, 8))
        mos = float(np.clip(4.5 - 30 * gt.mean() + rng.normal(0, 0.6), 1, 5))
        gts[key] = {'score': round(mos * 3) / 3, 'pred_area': gt}
        preds[key] = {
            'score': float(mos + rng.normal(0, 0.5)),
            'pred_area': pred
        }
    paths = {
        name: osp.join(folder, file)
        for name, file in (('pkl', 'output.pkl'), ('zip', 'submission.zip'),
                           ('gt', 'gt.pkl'))
    }
    with open(paths['pkl'], 'wb') as f:
        pickle.dump(preds, f, protocol=4)
    with open(paths['gt'], 'wb') as f:
        pickle.dump(gts, f, protocol=4)
    with zipfile.ZipFile(
            paths['zip'], 'w', compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(paths['pkl'], 'output.pkl')
        zf.writestr('readme.txt', format_readme(0.5))
    return paths


def _blobs_wh(rng, mask, n, radius):
    """Ellipses anywhere in a (possibly non-square) mask."""
    height, width = mask.shape
    for _ in range(n):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = tuple(int(v) for v in rng.integers(radius[0], radius[1], 2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1,
                    -1)
    return mask


def _tree_pids(pid):
    """A process and its descendants (pids), as /proc lists them now."""
    pids, todo = set(), [pid]
    while todo:
        current = todo.pop()
        pids.add(current)
        try:
            for task in os.listdir(f'/proc/{current}/task'):
                with open(f'/proc/{current}/task/{task}/children') as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return pids


def _signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _frozen_tree_pss_kb(pid):
    """Proportional set size of a process and its descendants (kB), read while
    they are all stopped; None once the process is gone.

    A process's PSS is its share of each page at the moment it is read: read
    one after another while they run, a page that another process maps in
    between is counted more than once (forked workers mapping the masks
    as they go). Stopped, the sum is exact.
    """
    stopped = set()
    try:
        while True:  # a process may fork before it stops: until none new
            pids = _tree_pids(pid)
            if pids <= stopped:
                break
            _signal_all(pids - stopped, signal.SIGSTOP)
            stopped |= pids
        total = 0
        for current in pids:
            with open(f'/proc/{current}/smaps_rollup') as f:
                total += sum(
                    int(line.split()[1]) for line in f
                    if line.startswith('Pss:'))
        return total
    except (OSError, ValueError):
        return None
    finally:
        _signal_all(stopped, signal.SIGCONT)


def run_process(cmd, repeat):
    """Runs ``cmd`` ``repeat`` times as a whole process.

    Returns:
        dict: median ``wall`` seconds, the largest ``rss`` peak (MiB, the
            largest of the process and its workers, from ``wait4``), the last
            run's ``stdout`` and ``stderr``.
    """
    walls, rss = [], []
    for _ in range(repeat):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=_REPO)
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - start)
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(), err.read().decode()
        if proc.returncode:
            raise SystemExit(f'{" ".join(cmd)} failed:\n{stderr}')
        rss.append(usage.ru_maxrss / 1024)
    return dict(
        wall=statistics.median(walls),
        rss=max(rss),
        stdout=stdout,
        stderr=stderr)


def peak_tree_pss(cmd, runs=2, interval=0.01):
    """The largest PSS of ``cmd``'s process tree (MiB) over ``runs`` runs,
    sampled every ``interval`` seconds of running, the tree stopped for each
    sample (so these runs are not timed).
    """
    peak = 0
    for _ in range(runs):
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=_REPO)
        while proc.poll() is None:
            peak = max(peak, _frozen_tree_pss_kb(proc.pid) or 0)
            time.sleep(interval)
        if proc.returncode:
            raise SystemExit(f'{" ".join(cmd)} failed')
    return peak / 1024


def _timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _worker_kind():
    """What the default workers are here (see ``parallel_counts``)."""
    return 'forked' if can_fork() else 'threads'


def _compute_side(side, pkl, gt, repeat):
    """Times one side's computation on loaded files (in a child process).

    Args:
        side (str): ``'released'`` (the anchor's ``score``), ``'struct_det'``
            (as ``tools/evaluate_submission.py`` runs: checks and score, the
            default workers) or ``'struct_det-serial'`` (``workers=1``).
        pkl (str): The ``output.pkl``.
        gt (str): The ``gt.pkl``.
        repeat (int): Timed runs, after one untimed run that faults the
            mapped pages in.

    Returns:
        dict: ``seconds`` (the median) and ``result`` (the side's numbers).
    """
    preds, gts = restricted_load(pkl), restricted_load(gt)
    if side == 'released':
        anchor = _load_path('released_scorer_procedure', RELEASED)

        def run():
            return anchor.score(preds, gts)
    else:
        workers = 1 if side == 'struct_det-serial' else None

        def run():
            return validate_and_score(preds, gts, workers=workers)[0]

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        run()
        seconds, result = _timed(run, repeat)
    return dict(
        seconds=seconds, result={
            k: float(v)
            for k, v in result.items()
        })


def _compute_child(side, paths, repeat):
    """:func:`_compute_side` in a fresh interpreter; (seconds, result)."""
    out = subprocess.run([
        sys.executable,
        osp.abspath(__file__), '--compute-only', side, paths['pkl'],
        paths['gt'], '--repeat-process',
        str(repeat)
    ],
                         check=True,
                         cwd=_REPO,
                         capture_output=True,
                         text=True).stdout
    timed = json.loads(out.strip().splitlines()[-1])
    return timed['seconds'], timed['result']


def whole_process_rows(num, repeat, seed):
    """The end-to-end comparison with the released scorer's procedure (markdown
    rows).
    """
    folder = tempfile.mkdtemp(prefix='struct_det_score_bench_')
    try:
        py = sys.executable
        # Written by a child process: a process's peak RSS (ru_maxrss) starts
        # from what its parent held when it was started, so this process must
        # never hold the masks before the whole-process runs.
        subprocess.run([
            py,
            osp.abspath(__file__), '--write-files', folder, '--submission-num',
            str(num), '--seed',
            str(seed)
        ],
                       check=True,
                       cwd=_REPO)
        # The package's bytecode, as an installed package has it (pip writes
        # it; Python on first import): a PYTHONDONTWRITEBYTECODE environment
        # would otherwise recompile struct_det in every timed run (~0.1 s).
        # The scripts run as __main__ on both sides, compiled each run.
        subprocess.run(
            [py, '-m', 'compileall', '-q',
             osp.join(_REPO, 'struct_det')],
            check=True)
        paths = {
            name: osp.join(folder, file)
            for name, file in (('pkl', 'output.pkl'),
                               ('zip', 'submission.zip'), ('gt', 'gt.pkl'))
        }
        commands = dict(
            released=[py, RELEASED, paths['pkl'], paths['gt'], '--timing'],
            ours_pkl=[py, EVALUATE, paths['pkl'], paths['gt']],
            ours_zip=[py, EVALUATE, paths['zip'], paths['gt']])
        results = {
            name: run_process(cmd, repeat)
            for name, cmd in commands.items()
        }
        for name, cmd in commands.items():  # untimed runs
            results[name]['pss'] = peak_tree_pss(cmd)
        released, ours_pkl, ours_zip = results.values()
        if not released['stdout'] == ours_pkl['stdout'] == ours_zip['stdout']:
            raise SystemExit(
                f'MISMATCH:\n{released["stdout"]}\nvs\n{ours_pkl["stdout"]}')
        released_import = run_process([py, RELEASED, '--help'], repeat)
        ours_import = run_process([py, EVALUATE, '--help'], repeat)

        # Computation only: each side in a fresh child process (no state one
        # side leaves, e.g. SciPy's libraries, can slow the other), on the
        # same files loaded the same way.
        ref_s, ref = _compute_child('released', paths, repeat)
        ours_s, mine = _compute_child('struct_det', paths, repeat)
        serial_s, serial = _compute_child('struct_det-serial', paths, repeat)
        for key, value in ref.items():
            if not (mine[key] == value == serial[key]):
                raise SystemExit(f'MISMATCH in {key}: {mine[key]!r} / '
                                 f'{serial[key]!r} vs {value!r}')
        preds = restricted_load(paths['pkl'])
        empty = sum(1 for v in preds.values() if not v['pred_area'].any())
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def row(name, base, mine, unit='s'):
        # released / struct_det: above 1, struct_det is faster (or uses less
        # memory).
        return (f'| {name} | {base:.2f} {unit} | {mine:.2f} {unit} | '
                f'{base / mine:.2f} |')

    rows = [
        f'{num} masks at original sizes ({empty} empty) vs a 512x512 gt.pkl; '
        f'medians of {repeat} runs; identical lines and numbers\n',
        '| measure | released procedure | struct_det | released / struct_det '
        '|',
        '|---|---:|---:|---:|',
        row('whole process, extracted output.pkl', released['wall'],
            ours_pkl['wall']),
        row('whole process, struct_det from the zip', released['wall'],
            ours_zip['wall']),
        row('import only (`--help`)', released_import['wall'],
            ours_import['wall']),
        row(
            'computation only, files loaded, each side in its own process '
            f'(default: {resolve_workers(num)} workers, {_worker_kind()})',
            ref_s, ours_s),
        row('computation only, the same, serial (`--workers 1`)', ref_s,
            serial_s),
        row('peak RSS, largest process (from output.pkl)', released['rss'],
            ours_pkl['rss'], 'MiB'),
        row('peak RSS, largest process (from the zip)', released['rss'],
            ours_zip['rss'], 'MiB'),
        row('peak PSS, process tree (from output.pkl)', released['pss'],
            ours_pkl['pss'], 'MiB'),
        row('peak PSS, process tree (from the zip)', released['pss'],
            ours_zip['pss'], 'MiB'),
    ]
    rows.append('\nreleased procedure timing (last run): '
                f'{released["stderr"].strip()}')
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--num', type=int, default=1000, help='images per scenario')
    parser.add_argument(
        '--ref-num',
        type=int,
        default=None,
        help='time the baseline on the first N images only (per-image times '
        'are compared); default: all')
    parser.add_argument('--repeat', type=int, default=3, help='best of N runs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--submission-num',
        type=int,
        default=999,
        help='masks in the end-to-end comparison (0: skip it)')
    parser.add_argument(
        '--repeat-process',
        type=int,
        default=5,
        help='runs of each whole process (median)')
    parser.add_argument(
        '--only-submission',
        action='store_true',
        help='run the end-to-end comparison only')
    parser.add_argument(
        '--write-files',
        metavar='DIR',
        help='only write the end-to-end files to DIR (used internally)')
    parser.add_argument(
        '--compute-only',
        nargs=3,
        metavar=('SIDE', 'PKL', 'GT'),
        help='only time one side\'s computation and print it as JSON (used '
        'internally)')
    args = parser.parse_args(argv)
    if args.compute_only:
        side, pkl, gt = args.compute_only
        print(json.dumps(_compute_side(side, pkl, gt, args.repeat_process)))
        return
    if args.write_files:
        make_submission_files(args.write_files, args.submission_num, args.seed)
        return
    if args.only_submission:
        print('\n'.join(
            whole_process_rows(args.submission_num, args.repeat_process,
                               args.seed)))
        return
    ref = _load_reference()
    ref_num = args.ref_num or args.num

    def ref_stage(pred512, gt512):
        return ref.binary_counts(pred512, gt512, pred_min_area(), 150, 0.1)

    scenarios = [
        ('a few blobs (0-3 GT, 0-2 extra '
         'predicted)', make_cases(args.num, args.seed)),
        ('many blobs (10-20 GT, 5-10 extra predicted)',
         make_cases(
             max(args.num // 5, 1),
             args.seed + 1,
             blobs=(10, 21),
             extra=(5, 11))),
    ]
    rows = []
    for name, cases in scenarios:
        regions = sum(c.num_pred + c.num_gt
                      for c in (image_region_counts(p, g)
                                for p, g in cases[:50])) / min(len(cases), 50)
        sub = cases[:min(ref_num, len(cases))]
        ours_ms, ours = _time(lambda p, g: image_region_counts(p, g), cases,
                              args.repeat)
        ref_ms, refs = _time(ref.image_counts, sub, args.repeat)
        for mine, theirs in zip(ours, refs):
            if tuple(mine)[:5] != tuple(theirs):
                raise SystemExit(f'MISMATCH: {tuple(mine)} vs {theirs}')
        rows.append((f'{name}, end to end (resize + regions + '
                     'GIoU)', len(cases), len(sub), regions, ref_ms, ours_ms))
        binarized = [(ref.binarize_prediction(p), g) for p, g in cases]
        ours_ms, ours = _time(_stage_ours, binarized, args.repeat)
        ref_ms, refs = _time(ref_stage, binarized[:len(sub)], args.repeat)
        for mine, theirs in zip(ours, refs):
            if tuple(mine)[:5] != theirs:
                raise SystemExit(f'MISMATCH: {tuple(mine)} vs {theirs}')
        rows.append(
            (f'{name}, region matching only (512x512 '
             'inputs)', len(cases), len(sub), regions, ref_ms, ours_ms))
        # What any exact implementation must run: the resize and one
        # findContours per mask and the pixel counts of the GIoU. It bounds the
        # possible end-to-end speed-up.
        floor_ms, _ = _time(_unavoidable, cases, args.repeat)
        rows.append(
            (f'{name}, unavoidable cv2 calls only (bound for end to '
             'end)', len(cases), len(sub), regions, rows[-2][4], floor_ms))

    print('counts identical to the per-pair scorer on every timed image; best '
          f'of {args.repeat} runs each; cv2 {cv2.__version__}, numpy '
          f'{np.__version__}\n')
    print('| scenario | images (baseline) | regions / image | per-pair scorer '
          'ms/img | struct_det ms/img | speed-up |')
    print('|---|---|---|---|---|---|')
    for name, n, n_ref, regions, ref_ms, ours_ms in rows:
        print(f'| {name} | {n} ({n_ref}) | {regions:.1f} | {ref_ms:.3f} | '
              f'{ours_ms:.3f} | {ref_ms / ours_ms:.1f}x |')
    if args.submission_num:
        print()
        print('\n'.join(
            whole_process_rows(args.submission_num, args.repeat_process,
                               args.seed)))


if __name__ == '__main__':
    main()
