"""Public API of supermachine_kernel: the `unxz` rule.

Load it with `load("@supermachine_kernel//:defs.bzl", "unxz")`. The implementation lives in
`//private:unxz.bzl`, which is not part of the API.
"""

load("//private:unxz.bzl", _unxz = "unxz")

unxz = _unxz
