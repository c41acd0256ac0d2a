"""The paper's model-based baselines on the DreamerV2 code path (docs/baselines.md).

- `apv`: APV (Seo et al., 2022): an action-free RSSM pretrained on videos (`action_free_rssm`),
  an action-conditional RSSM stacked on it for fine-tuning, and the video-based intrinsic bonus
  (`knn_bonus`).
- `isodream` / `isodream_model`: Iso-Dream (Pan et al., 2022): controllable and non-controllable
  branches, inverse dynamics on the controllable one, a policy that attends to the imagined
  future of the non-controllable branch.
Shared by both: `composite` (a state of two RSSM states, the `WorldModel` methods they reuse).
Settings: `settings` (`APVConfig`, `IsoDreamConfig`, the `apv` and `isodream` config sections).
"""
