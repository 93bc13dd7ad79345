"""RandomStateHook: weights-only-safe states that restore every generator."""
import random
from types import SimpleNamespace

import numpy as np
import torch

from projects.aigcmatch.engine.hooks import (RANDOM_STATES_KEY,
                                             RandomStateHook,
                                             capture_random_states,
                                             restore_random_states)


def draws():
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(),
            np.random.randn(1).tolist(), [random.random(),
                                          random.gauss(0, 1)])


def test_round_trip_through_a_weights_only_file(tmp_path):
    np.random.randn()  # leaves a cached Gaussian in numpy's state
    random.gauss(0, 1)  # and in Python's
    states = capture_random_states()
    expected = draws()
    path = tmp_path / 'states.pth'
    torch.save({RANDOM_STATES_KEY: states}, path)
    loaded = torch.load(path, weights_only=True)[RANDOM_STATES_KEY]
    draws()
    restore_random_states(loaded)
    assert draws() == expected


def runner(resume):
    return SimpleNamespace(_resume=resume, _randomness_cfg={}, seed=0)


def test_restores_only_when_resuming_and_only_at_the_first_iteration():
    hook = RandomStateHook()
    checkpoint = {'meta': {'iter': 5}}
    hook.before_save_checkpoint(runner(False), checkpoint)
    expected = draws()
    states = checkpoint[RANDOM_STATES_KEY]
    assert states['world_size'] == 1

    # load_from (no resume): a new run keeps its own streams
    hook.after_load_checkpoint(runner(False), checkpoint)
    hook.before_train_iter(runner(False), 0)
    assert draws() != expected

    hook.after_load_checkpoint(runner(True), checkpoint)
    draws()  # the runner builds loaders etc. after loading
    hook.before_train_iter(runner(True), 0)
    assert draws() == expected
    hook.before_train_iter(runner(True), 1)  # applied once only
    assert draws() != expected


def test_validation_is_neutral_and_best_checkpoint_stores_training_states():
    hook = RandomStateHook()
    states = capture_random_states()
    expected = draws()
    restore_random_states(states)
    hook.before_val(runner(False))
    draws()  # validation draws
    best = {}
    hook.before_save_checkpoint(runner(False), best)  # best ckpt, in val
    hook.after_val(runner(False))
    assert draws() == expected
    restore_random_states(best[RANDOM_STATES_KEY])
    assert draws() == expected


def test_old_checkpoint_without_states_leaves_streams_alone():
    hook = RandomStateHook()
    hook.after_load_checkpoint(runner(True), {'meta': {'iter': 1}})
    state = torch.get_rng_state()
    hook.before_train_iter(runner(True), 0)
    assert torch.equal(torch.get_rng_state(), state)
