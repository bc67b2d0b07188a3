"""Variant tests (A/B/n): 2–8 versions of a campaign's content, each customer assigned by a stable
hash; either the whole audience split, or test cells first and, after a wait, the winner to the
rest — chosen only when it is significantly better (campaigns.variants.stats), otherwise a stated
fallback."""
