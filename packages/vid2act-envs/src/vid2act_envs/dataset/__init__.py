"""The HDF5 episode dataset format: an append-safe writer and a validating reader.

One file per dataset::

    /                     attrs: domain, task, action_repeat, camera, collector, image_size (H, W),
                                 action_dim, format_version (=1), library_version, num_episodes
    /episodes/000000      image (T, H, W, 3) uint8, chunked by frames, gzip or lzf
                          action (T, A) float32 in [-1, 1]
                          optional: reward (T,) float32, success / is_first / is_last /
                          is_terminal (T,) bool, and extra per-step arrays (leading length T)
    /episodes/000001      ...

Arrays follow the episode convention of docs/architecture.md: `action[t]` led to `image[t]`,
`action[0]` is zeros. docs/data-format.md is the full specification (attributes, dtypes, flags,
episodes shorter than the training window), written for third parties who write files without
this package.

Crash safety: `EpisodeWriter` prepares (and, for gzip, compresses) a whole episode in memory,
writes it under a temporary group name (`episodes/partial-NNNNNN`), flushes, renames the group to
its final name, updates the `num_episodes` attribute last and flushes again. Between episodes the
file on disk is the state of the last flush, so a process killed mid-collection leaves a file
holding exactly the complete episodes. The committed episodes are `000000 .. num_episodes-1`;
readers ignore (and count in `partial_episodes`) any other leftover group, and the next writer
that appends to the file deletes them.

Modules: `format` (version, attributes, errors), `writer` (`EpisodeWriter`), `reader`
(`open_dataset`, `EpisodeDataset`); episodes are checked by `vid2act_envs.episodes`.
"""

from vid2act_envs.dataset.format import COMPARED_ATTRS, FORMAT_VERSION, DatasetAttrs, DatasetError
from vid2act_envs.dataset.reader import EpisodeDataset, open_dataset
from vid2act_envs.dataset.writer import EpisodeWriter

__all__ = [
    "COMPARED_ATTRS",
    "FORMAT_VERSION",
    "DatasetAttrs",
    "DatasetError",
    "EpisodeDataset",
    "EpisodeWriter",
    "open_dataset",
]
