"""A mypy plugin: ``.get("key")`` of a key a TypedDict does not have is an error, as ``["key"]`` is.

mypy checks the keys of a TypedDict where one is indexed or built, but ``.get`` of an
unknown key passes (it returns ``object``). Event payloads are read with ``.get``
(``watchkeeper/protocol/payloads.py``: every field optional), so without this a misspelt
field name would go unnoticed where most of them are read.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.plugin import MethodContext, Plugin
from mypy.plugins.default import typed_dict_get_callback
from mypy.typeops import try_getting_str_literals
from mypy.types import Type, TypedDictType


def _checked_get(ctx: MethodContext) -> Type:
    if isinstance(ctx.type, TypedDictType) and ctx.args and len(ctx.args[0]) == 1:
        keys = try_getting_str_literals(ctx.args[0][0], ctx.arg_types[0][0]) or []
        for key in keys:
            if key not in ctx.type.items:
                ctx.api.msg.typeddict_key_not_found(ctx.type, key, ctx.context)
    return typed_dict_get_callback(ctx)


class PayloadKeys(Plugin):
    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _checked_get if fullname == "typing.Mapping.get" else None


def plugin(version: str) -> type[Plugin]:
    return PayloadKeys
