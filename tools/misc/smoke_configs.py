"""Every real-size config trains one step and tests with TTA, from random
weights.

    python tools/misc/smoke_configs.py [CONFIG ...] [--json OUT] [--device \
        cpu|cuda] [--input-size N] [--num-images 2] [--test-images 1] \
        [--timeout S] [--max-rss-mb MB] [--work-dir DIR]

Without CONFIG: every config under configs/ except configs/tiny and
configs/_base_. Each config runs in its own process (its peak memory is that
process's own):

1. random init: ``load_from``, pretrained backbones, LoDa's local timm files
   and the joint model's member checkpoints are cleared (no weight file is read
   or downloaded);
2. ``--input-size N`` scales every fixed pad/crop/resize size so that the
   largest is N (architecture unchanged; see ``struct_det.utils.input_size``);
3. the training batch holds ``--num-images`` annotated images of the bundled
   sample (``make data`` writes data/evalmuse_sample), the test
   ``--test-images`` others;
4. one optimizer step through ``tools/train.py``'s config and mmengine's runner
   (the config's optimizer wrapper, AMP where it asks for it; on CPU, where
   mmengine has no AMP, in fp32 and said so);
5. one ``tools/test.py --tta`` run on the trained weights (the config's
   ``tta_model`` / ``tta_pipeline``).

Reported per config: parameters (total / trainable), the train step's seconds,
test seconds per image, peak memory (the process's max RSS on CPU,
``torch.cuda.max_memory_allocated`` on GPU), ok or the error. ``--json`` writes
one record per config with the keys of :data:`JSON_KEYS`. The exit status is 1
if any config failed.
"""
import argparse
import copy
import glob
import importlib.util
import json
import math
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
JSON_KEYS = ('config', 'params', 'trainable', 'train_step_s', 'test_s_per_img',
             'peak_mem_mb', 'device', 'input_size', 'ok', 'error')
SKIPPED_DIRS = ('tiny', '_base_')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def discover_configs(config_root: str) -> List[str]:
    """The real-size configs: every ``configs/<dir>/*.py`` but the tiny ones
    and bases.

    Args:
        config_root: the ``configs`` folder.

    Returns:
        list[str]: sorted paths.
    """
    found = []
    for path in sorted(glob.glob(osp.join(config_root, '*', '*.py'))):
        if osp.basename(osp.dirname(path)) not in SKIPPED_DIRS:
            found.append(path)
    return found


def _load_tool(name: str) -> Any:
    """tools/train.py or tools/test.py as a module (their config building is
    reused).
    """
    spec = importlib.util.spec_from_file_location(
        f'struct_det_tools_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------
# config
def _annotated_subset(ann_file: str, num_images: int, out_file: str) -> bool:
    """Writes a COCO file with the first ``num_images`` annotated images of one
    orientation.

    One orientation keeps mmdet's aspect-ratio batch sampler from splitting the
    batch.

    Returns:
        bool: False when ``ann_file`` is no COCO file (the caller subsets by
            index).
    """
    with open(ann_file, 'r', encoding='utf-8') as f:
        coco = json.load(f)
    if not isinstance(coco, dict) or 'images' not in coco:
        return False
    annotated = {a['image_id'] for a in coco.get('annotations', [])}
    images = [im for im in coco['images'] if im['id'] in annotated] or list(
        coco['images'])
    landscape = [
        im for im in images if im.get('width', 1) >= im.get('height', 1)
    ]
    portrait = [
        im for im in images if im.get('width', 1) < im.get('height', 1)
    ]
    group = next((g for g in (landscape, portrait) if len(g) >= num_images),
                 images)
    chosen = group[:num_images]
    if len(chosen) < num_images:
        raise ValueError(f'{ann_file}: only {len(chosen)} images, '
                         f'--num-images asks for {num_images}')
    ids = {im['id'] for im in chosen}
    subset = dict(
        coco,
        images=chosen,
        annotations=[
            a for a in coco.get('annotations', []) if a['image_id'] in ids
        ])
    os.makedirs(osp.dirname(out_file), exist_ok=True)
    with open(out_file, 'w', encoding='utf-8') as f:
        json.dump(subset, f)
    return True


def _redirect_data(cfg: Any, data_root: str, work_dir: str, num_images: int,
                   test_images: int) -> None:
    """Points the dataloaders at a few sample images (one training batch),
    in-process.
    """
    from struct_det.utils import innermost_dataset
    for name in LOADERS:
        loader = cfg.get(name)
        if loader is None:
            continue
        loader.num_workers = 0
        loader.persistent_workers = False
        count = num_images if name == 'train_dataloader' else test_images
        loader.batch_size = count if name == 'train_dataloader' else \
            min(loader.get('batch_size', 1), count)
        dataset = innermost_dataset(loader.dataset)
        dataset.data_root = data_root
        ann_file = dataset.get('ann_file')
        if ann_file and str(ann_file).endswith('.json'):
            source = ann_file if osp.isabs(ann_file) else osp.join(
                data_root, ann_file)
            if not osp.isfile(source):
                raise FileNotFoundError(
                    f'{source} (the {name} annotations, relative to '
                    '--data-root) not found; `make data` writes the bundled '
                    'sample to data/evalmuse_sample')
            target = osp.join(work_dir, 'annotations',
                              f'{name}_{osp.basename(source)}')
            if _annotated_subset(source, count, target):
                dataset.ann_file = target
                continue
        dataset.indices = count


def _redirect_outputs(node: Any, work_dir: str) -> None:
    """Evaluator outputs (submission zips, result files) go to the work dir."""
    node = getattr(node, '_cfg_dict', node)
    if isinstance(node, dict):
        for key in ('out_file', 'outfile_prefix', 'out_file_path',
                    'output_dir'):
            if isinstance(node.get(key), str):
                node[key] = osp.join(work_dir, 'outputs',
                                     osp.basename(node[key]) or key)
        for value in node.values():
            _redirect_outputs(value, work_dir)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _redirect_outputs(value, work_dir)


SMOKE_THRESHOLD = 0.5


def _fix_calibrated_thresholds(node: Any) -> int:
    """``score_thr='calibrated'`` becomes :data:`SMOKE_THRESHOLD`, in place.

    A smoke run's weights come from one step without a validation loop, so no
    calibrated threshold is stored with them (a submission writer refuses to
    run without one).

    Returns:
        int: how many thresholds were set.
    """
    node = getattr(node, '_cfg_dict', node)
    count = 0
    if isinstance(node, dict):
        if node.get('score_thr') == 'calibrated':
            node['score_thr'] = SMOKE_THRESHOLD
            count += 1
        for value in node.values():
            count += _fix_calibrated_thresholds(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _fix_calibrated_thresholds(value)
    return count


def _make_random_init(cfg: Any, source: str) -> None:
    from struct_det.utils.random_init import (clear_weight_files,
                                              weight_file_references)
    clear_weight_files(cfg)
    left = weight_file_references(cfg)
    if left:
        raise ValueError(f'{source}: {left[0][0]} = {left[0][1]!r} still '
                         'names a weight file after clearing '
                         'load_from/pretrained/init_cfg/checkpoint; a '
                         'random-init smoke run cannot start it')


def _shrink(cfg: Any, input_size: Optional[int],
            source: str) -> Dict[str, Any]:
    from struct_det.utils.input_size import (config_input_size,
                                             shrink_input_size)
    shrunk = shrink_input_size(cfg, input_size) if input_size else None
    return dict(
        input_size=config_input_size(cfg),
        shrunk_from=shrunk[0] if shrunk else None)


def _prepare_members(cfg: Any, input_size: Optional[int],
                     work_dir: str) -> Dict[str, Any]:
    """Joint models: every member config made random-init and shrunk, written
    to the work dir.

    Returns:
        dict: the largest member input size and, when shrunk, its original.
    """
    from mmengine.config import Config

    from struct_det.utils import resolve_config_path
    sizes, originals = [], []
    specs = []
    model = cfg.get('model', {})
    for key in ('regressor', 'detectors', 'segmentors', 'members'):
        value = model.get(key)
        if isinstance(value, dict):
            specs.append(value)
        elif isinstance(value, (list, tuple)):
            specs.extend(v for v in value if isinstance(v, dict))
    for index, spec in enumerate(specs):
        spec.checkpoint = None
        if not spec.get('config'):
            continue
        path = resolve_config_path(spec.config)
        member = Config.fromfile(path)
        if spec.get('cfg_options'):
            member.merge_from_dict(spec.pop('cfg_options'))
        _make_random_init(member, path)
        info = _shrink(member, input_size, path)
        if info['input_size']:
            sizes.append(info['input_size'])
        if info['shrunk_from']:
            originals.append(info['shrunk_from'])
        target = osp.join(work_dir, 'members', f'{index}_{osp.basename(path)}')
        os.makedirs(osp.dirname(target), exist_ok=True)
        member.dump(target)
        spec.config = target
    return dict(
        input_size=max(sizes) if sizes else None,
        shrunk_from=max(originals) if originals else None)


def prepare_config(config: str,
                   *,
                   data_root: str,
                   work_dir: str,
                   device: str,
                   input_size: Optional[int] = None,
                   num_images: int = 2,
                   test_images: int = 1,
                   train_iters: int = 1,
                   seed: int = 0):
    """The config of a smoke run: random init, shrunk, on the sample,
    ``train_iters`` steps.

    Args:
        config: the config file.
        data_root: the sample data (EvalMuse-Structure layout, converted
            annotations).
        work_dir: where the run writes (annotation subsets, member configs,
            logs).
        device: ``'cpu'`` or ``'cuda'``.
        input_size: shrink every fixed input size so that the largest is this.
        num_images: images of the training batch.
        test_images: images to test on.
        train_iters: optimizer steps.
        seed: the runner's random seed.

    Returns:
        tuple: ``(cfg, info)``, info with ``input_size``, ``shrunk_from`` and
            ``notes``.
    """
    from mmengine.config import Config, ConfigDict
    cfg = Config.fromfile(config)
    notes = []
    _make_random_init(cfg, config)
    info = _shrink(cfg, input_size, config)
    if cfg.get('model', {}).get('type') in ('StructureAssessor', ):
        info = _prepare_members(cfg, input_size, work_dir)
    _redirect_data(cfg, data_root, work_dir, num_images, test_images)
    _redirect_outputs(cfg.get('val_evaluator'), work_dir)
    _redirect_outputs(cfg.get('test_evaluator'), work_dir)
    if sum(
            _fix_calibrated_thresholds(cfg.get(key))
            for key in ('val_evaluator', 'test_evaluator')):
        notes.append(f'calibrated thresholds at {SMOKE_THRESHOLD}')
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    if cfg.get('train_dataloader') is not None and cfg.get(
            'train_cfg') is not None:
        cfg.train_cfg = ConfigDict(
            type='IterBasedTrainLoop',
            max_iters=train_iters,
            val_interval=10**9)
    hooks = cfg.setdefault('default_hooks', ConfigDict())
    # the smoke run saves the trained weights itself
    hooks['checkpoint'] = None
    if 'logger' in hooks and hooks['logger'] is not None:
        hooks['logger']['interval'] = 1
    optim = cfg.get('optim_wrapper')
    if device == 'cpu' and optim is not None and \
            str(optim.get('type', '')).endswith('AmpOptimWrapper'):
        # mmengine's AmpOptimWrapper needs CUDA/NPU/MLU/MUSA;
        # FSDPAmpOptimWrapper's fp32 twin is FSDPOptimWrapper
        optim.type = str(optim.type).replace('AmpOptimWrapper', 'OptimWrapper')
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            optim.pop(key, None)
        notes.append('AMP off on CPU')
    strategy = cfg.get('strategy')
    if device == 'cpu' and isinstance(strategy, dict) and \
            str(strategy.get('type', '')).startswith('FSDP'):
        wrapper = strategy.setdefault('model_wrapper', ConfigDict())
        if isinstance(wrapper.get('mixed_precision'), dict):
            wrapper.pop('mixed_precision')
            notes.append('FSDP mixed precision off on CPU')
        notes.append('FSDP on 1 gloo rank')
    info['notes'] = notes
    return cfg, info


# ----------------------------------------------------------------------------
# running
class _Timings:
    """What the smoke hook measured."""

    def __init__(self) -> None:
        self.train_s: List[float] = []
        self.losses: List[float] = []
        self.test_s = 0.0
        self.test_images = 0


def _timing_hook(timings: _Timings) -> Any:
    """A hook timing the runner's train and test iterations (data loading
    excluded).
    """
    from mmengine.hooks import Hook

    class SmokeTimingHook(Hook):
        priority = 'VERY_LOW'

        def __init__(self) -> None:
            self._t0 = 0.0

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self._t0 = time.perf_counter()

        def after_train_iter(self,
                             runner,
                             batch_idx,
                             data_batch=None,
                             outputs=None):
            timings.train_s.append(time.perf_counter() - self._t0)
            loss = (outputs or {}).get('loss')
            if hasattr(loss, 'detach'):
                loss = loss.detach()
            timings.losses.append(
                float(loss) if loss is not None else math.nan)

        def before_test_iter(self, runner, batch_idx, data_batch=None):
            self._t0 = time.perf_counter()

        def after_test_iter(self,
                            runner,
                            batch_idx,
                            data_batch=None,
                            outputs=None):
            timings.test_s += time.perf_counter() - self._t0
            timings.test_images += len(outputs or [])

    return SmokeTimingHook()


def _build_runner(cfg: Any) -> Any:
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(
        cfg)


def _count_parameters(model: Any) -> Dict[str, int]:
    from mmengine.model import is_model_wrapper
    while is_model_wrapper(model):
        model = model.module
    params = list(model.parameters())
    return dict(
        params=sum(p.numel() for p in params),
        trainable=sum(p.numel() for p in params if p.requires_grad))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_config(config: str,
               *,
               data_root: str,
               work_dir: str,
               device: str = 'cpu',
               input_size: Optional[int] = None,
               num_images: int = 2,
               test_images: int = 1,
               train_iters: int = 1,
               seed: int = 0,
               test: bool = True,
               result: Optional[Dict[str, Any]] = None,
               progress_file: Optional[str] = None) -> Dict[str, Any]:
    """Trains and TTA-tests one config in this process (see the module
    docstring).

    Args:
        config: the config file.
        data_root: the sample data.
        work_dir: an empty folder for this run.
        device: ``'cpu'`` or ``'cuda'``.
        input_size: see :func:`prepare_config`.
        num_images: see :func:`prepare_config`.
        test_images: see :func:`prepare_config`.
        train_iters: optimizer steps (the reported step time is the first's).
        seed: the runner's random seed.
        test: run the TTA test after training.
        result: filled in as the run goes (what was measured before an error
            stays).
        progress_file: where the result so far is written once the config is
            prepared and after training (what a killed run leaves behind).

    Returns:
        dict: the :data:`JSON_KEYS` (``peak_mem_mb`` only on CUDA) plus
            ``losses`` (one per step), ``shrunk_from`` and ``notes``.
    """
    import torch

    import struct_det  # noqa: F401  registers the modules
    from struct_det.utils import atomic_write
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: no CUDA device is visible')
    cfg, info = prepare_config(
        config,
        data_root=data_root,
        work_dir=work_dir,
        device=device,
        input_size=input_size,
        num_images=num_images,
        test_images=test_images,
        train_iters=train_iters,
        seed=seed)
    os.makedirs(osp.join(work_dir, 'configs'), exist_ok=True)
    flexible = cfg.get('runner_type') == 'FlexibleRunner'
    launcher = 'none'
    if flexible and cfg.get('strategy') is not None:
        # a sharding strategy needs a process group, even of one process
        launcher = 'pytorch'
        os.environ.update(
            RANK='0',
            LOCAL_RANK='0',
            WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(_free_port()))
    result = {} if result is None else result
    result.update(
        config=config,
        params=None,
        trainable=None,
        train_step_s=None,
        test_s_per_img=None,
        peak_mem_mb=None,
        device=device,
        input_size=info['input_size'],
        ok=False,
        error=None,
        losses=[],
        shrunk_from=info['shrunk_from'],
        notes=info['notes'])
    _write_progress(progress_file, result)
    timings = _Timings()
    checkpoint = None
    trains = cfg.get('train_dataloader') is not None and cfg.get(
        'train_cfg') is not None
    if trains:
        train_cfg = copy.deepcopy(cfg)
        for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                    'test_dataloader', 'test_cfg', 'test_evaluator'):
            train_cfg[key] = None
        # not in the work dir itself, where the runner writes its own copy of
        # the config
        path = osp.join(work_dir, 'configs', 'train_config.py')
        train_cfg.dump(path)
        train_tool = _load_tool('train')
        runner = _build_runner(
            train_tool.build_train_config(
                train_tool.parse_args(
                    [path, '--work-dir', work_dir, '--launcher', launcher])))
        runner.register_hook(_timing_hook(timings), priority='VERY_LOW')
        runner.train()
        result.update(_count_parameters(runner.model))
        result['train_step_s'] = timings.train_s[0]
        result['losses'] = timings.losses
        if not all(math.isfinite(v) for v in timings.losses):
            raise FloatingPointError('non-finite training loss '
                                     f'{timings.losses}')
        checkpoint = osp.join(work_dir, 'smoke_weights.pth')
        runner.save_checkpoint(
            work_dir,
            osp.basename(checkpoint),
            save_optimizer=False,
            save_param_scheduler=False)
        del runner
        _write_progress(progress_file, result)
    if not test:
        result['ok'] = True
        return result
    test_path = osp.join(work_dir, 'configs', 'test_config.py')
    cfg.dump(test_path)
    test_tool = _load_tool('test')
    argv = [test_path] + ([checkpoint] if checkpoint else []) + \
        ['--tta', '--work-dir', work_dir, '--launcher', launcher]
    runner = _build_runner(
        test_tool.build_test_config(test_tool.parse_args(argv)))
    runner.register_hook(_timing_hook(timings), priority='VERY_LOW')
    runner.test()
    if not trains:
        result.update(_count_parameters(runner.model))
    if timings.test_images == 0:
        raise RuntimeError('the test loop ran no image')
    result['test_s_per_img'] = timings.test_s / timings.test_images
    if device == 'cuda':
        result['peak_mem_mb'] = torch.cuda.max_memory_allocated() / 2**20
    result['ok'] = True
    atomic_write(osp.join(work_dir, 'done'), lambda f: f.write(''), mode='w')
    return result


def _write_progress(path: Optional[str], result: Dict[str, Any]) -> None:
    """Writes the result so far (``ok`` still False) for a parent whose child
    may be killed.
    """
    if path:
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(result, f)


def _worker(args: argparse.Namespace) -> int:
    """Runs one config (``--worker``) and writes its result for the parent."""
    import torch
    if os.environ.get('OMP_NUM_THREADS'):
        torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
    result: Dict[str, Any] = dict(config=args.worker)
    try:
        run_config(
            args.worker,
            data_root=args.data_root,
            work_dir=args.work_dir,
            device=args.device,
            input_size=args.input_size,
            num_images=args.num_images,
            test_images=args.test_images,
            train_iters=args.train_iters,
            seed=args.seed,
            test=not args.no_test,
            result=result,
            progress_file=args.result)
    except BaseException as err:  # reported, not raised: the parent goes on
        traceback.print_exc()
        result.update(
            ok=False, error=f'{type(err).__name__}: {err}'.strip()[:2000])
    with open(args.result, 'w', encoding='utf-8') as f:
        json.dump(result, f)
    return 0 if result.get('ok') else 1


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


def _rss_mb(pid: int) -> Optional[float]:
    """The resident memory of a running process in MB (None once it is gone).
    """
    try:
        with open(f'/proc/{pid}/status', 'r', encoding='ascii') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        return None
    return None


def run_isolated(config: str, args: argparse.Namespace,
                 work_dir: str) -> Dict[str, Any]:
    """Runs one config in a subprocess and measures its peak RSS
    (``os.wait4``).

    Args:
        config: the config file.
        args: the command line.
        work_dir: an empty folder for this config.

    Returns:
        dict: the worker's result with ``peak_mem_mb`` (CPU) filled in.
    """
    result_file = osp.join(work_dir, 'result.json')
    log_file = osp.join(work_dir, 'run.log')
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--worker',
        osp.abspath(config), '--result', result_file, '--work-dir', work_dir,
        '--data-root', args.data_root, '--device', args.device, '--num-images',
        str(args.num_images), '--test-images',
        str(args.test_images), '--train-iters',
        str(args.train_iters), '--seed',
        str(args.seed)
    ]
    if args.input_size:
        cmd += ['--input-size', str(args.input_size)]
    if args.no_test:
        cmd.append('--no-test')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    if args.device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    with open(log_file, 'w') as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        timed_out = threading.Event()
        over_memory = threading.Event()
        finished = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        def watch_memory() -> None:
            while not finished.wait(0.2):
                rss = _rss_mb(proc.pid)
                if rss is not None and rss > args.max_rss_mb:
                    over_memory.set()
                    proc.kill()
                    return

        timer = threading.Timer(args.timeout, kill) if args.timeout else None
        if timer:
            timer.start()
        watcher = threading.Thread(target=watch_memory, daemon=True) \
            if args.max_rss_mb else None
        if watcher:
            watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        finished.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if timer:
            timer.cancel()
        if watcher:
            watcher.join()
    result: Dict[str, Any] = dict(config=config, ok=False, error=None)
    if osp.isfile(result_file):
        # the final result, or what a killed worker had measured so far
        with open(result_file, 'r', encoding='utf-8') as f:
            result.update(json.load(f))
    if over_memory.is_set():
        result.update(
            ok=False,
            error=f'stopped at {args.max_rss_mb} MB resident memory '
            f'(--max-rss-mb); last output:\n{_tail(log_file)}')
    elif result.get('ok') or result.get('error'):
        pass  # the worker's own result
    elif timed_out.is_set():
        result['error'] = f'timed out after {args.timeout} s'
    elif proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        oom = -proc.returncode == signal.SIGKILL
        hint = ' (out of memory?)' if oom else ''
        result['error'] = (f'killed by {name}{hint}; last output:\n'
                           f'{_tail(log_file)}')
    else:
        result['error'] = (f'exited with status {proc.returncode}; last '
                           f'output:\n{_tail(log_file)}')
    if result.get('ok') is False and result.get(
            'error') and 'log' not in result:
        result['error'] += f' [log: {log_file}]'
    if args.device == 'cpu':
        result['peak_mem_mb'] = usage.ru_maxrss / 1024  # KiB on Linux
    result['config'] = config
    result['device'] = args.device
    return result


def _fmt_count(n: Optional[int]) -> str:
    return '-' if n is None else f'{n / 1e6:.1f}M'


def _fmt(value: Optional[float], unit: str) -> str:
    return '-' if value is None else f'{value:.2f}{unit}'


def describe(result: Dict[str, Any]) -> str:
    """One line per config for the terminal (two when it failed).

    Args:
        result: a record of :func:`run_isolated`.

    Returns:
        str: the figures, the input size (and what it was shrunk from), the
            notes.
    """
    size = result.get('input_size')
    size_text = '-' if size is None else str(size)
    if result.get('shrunk_from'):
        size_text += f' (shrunk from {result["shrunk_from"]})'
    notes = ', '.join(result.get('notes') or [])
    line = (f'[{"ok" if result.get("ok") else "FAILED"}] {result["config"]}: '
            f'params {_fmt_count(result.get("params"))} (trainable '
            f'{_fmt_count(result.get("trainable"))}), train step '
            f'{_fmt(result.get("train_step_s"), " s")}, test '
            f'{_fmt(result.get("test_s_per_img"), " s/img")}, peak '
            f'{_fmt(result.get("peak_mem_mb"), " MB")}, input {size_text}' +
            (f', {notes}' if notes else ''))
    if not result.get('ok'):
        line += f'\n    error: {result.get("error")}'
    return line


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (see the module docstring).

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: the options, ``data_root`` made absolute.
    """
    parser = argparse.ArgumentParser(
        description='Train one step and TTA-test every real-size config from '
        'random weights')
    parser.add_argument(
        'configs',
        nargs='*',
        help='config files (default: every config under configs/ but tiny/)')
    parser.add_argument(
        '--json', help='write one record per config to this JSON file')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument(
        '--input-size',
        type=int,
        default=None,
        help='shrink every fixed pad/crop/resize size so that the largest is '
        'this (architecture unchanged)')
    parser.add_argument(
        '--num-images',
        type=int,
        default=2,
        help='sample images in the training batch (batch statistics losses '
        'need 2)')
    parser.add_argument(
        '--test-images',
        type=int,
        default=1,
        help='sample images the TTA test runs on')
    parser.add_argument(
        '--train-iters', type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument(
        '--no-test', action='store_true', help='train only (no TTA test)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--data-root',
        default=osp.join(REPO, 'data', 'evalmuse_sample'),
        help='the bundled sample (make data)')
    parser.add_argument(
        '--work-dir',
        default=None,
        help='keep each run\'s logs here (default: a temporary folder)')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='configs run at the same time (timings are then not alone on the '
        'machine)')
    parser.add_argument(
        '--timeout',
        type=float,
        default=None,
        help='seconds before a config counts as failed')
    parser.add_argument(
        '--max-rss-mb',
        type=float,
        default=None,
        help='stop a config whose process passes this resident memory (MB) '
        'and report it as failed (protects a shared machine)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--result', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.num_images, args.test_images, args.jobs) < 1:
        parser.error('--num-images, --test-images and --jobs must be at least '
                     '1')
    if args.input_size is not None and args.input_size < 1:
        parser.error('--input-size must be positive')
    if args.max_rss_mb is not None and args.max_rss_mb <= 0:
        parser.error('--max-rss-mb must be positive')
    args.data_root = osp.abspath(args.data_root)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Runs every config asked for, one process each, and reports them.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        int: 0 when every config ran ``ok``, 1 when one failed, 2 for a bad
            command line.
    """
    args = parse_args(argv)
    if args.worker:
        return _worker(args)
    configs = args.configs or [
        osp.relpath(p) if p.startswith(os.getcwd() + os.sep) else p
        for p in discover_configs(osp.join(REPO, 'configs'))
    ]
    missing = [c for c in configs if not osp.isfile(c)]
    if missing:
        print(
            f'config file(s) not found: {", ".join(missing)}', file=sys.stderr)
        return 2
    if not osp.isfile(
            osp.join(args.data_root, 'annotations', 'evalmuse_val.json')):
        print(
            f'{args.data_root}/annotations/evalmuse_val.json not found: run '
            '`make data` (or pass --data-root)',
            file=sys.stderr)
        return 2
    root = args.work_dir or tempfile.mkdtemp(prefix='smoke_configs_')

    def run(index: int) -> Dict[str, Any]:
        config = configs[index]
        work_dir = osp.join(
            root, f'{index:02d}_{osp.splitext(osp.basename(config))[0]}')
        os.makedirs(work_dir, exist_ok=True)
        result = run_isolated(config, args, work_dir)
        print(describe(result), flush=True)
        return result

    # each config is its own process; --jobs > 1 overlaps them (the timings
    # then share the machine, the peak memory of each process stays its own)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run, range(len(configs))))
    if args.json:
        from struct_det.utils import atomic_write
        records = [{key: r.get(key) for key in JSON_KEYS} for r in results]
        atomic_write(
            args.json, lambda f: json.dump(records, f, indent=1), mode='w')
    failed = [r['config'] for r in results if not r.get('ok')]
    print(f'{len(results) - len(failed)}/{len(results)} configs ok' +
          (f'; failed: {", ".join(failed)}' if failed else '') +
          (f'; logs in {root}' if failed or args.work_dir else ''))
    if not failed and not args.work_dir:
        import shutil
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
