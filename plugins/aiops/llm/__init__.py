"""Optional Claude narratives: an explanation next to our evidence, never a decision.

Every call goes through one gateway (`gateway.Gateway`): the text is PII-masked, the day's
budget checked, the reply validated against a tool schema and retried once when invalid;
anything else (no key, over budget, an API error, invalid twice) gives the rule-based text
with the reason. Answers are cached per item in the store, so an unchanged finding costs
nothing the next night.
"""
