"""The conversation view's style roles and its stylesheet: one component class per role, colours from the theme."""

ROLES = (
    "text", "user", "speaker", "speaker-user", "time", "heading", "bold", "code", "quote", "link", "dim",
    "tool", "summary", "agent", "ok", "error", "running", "waiting", "denied", "warning", "notice", "raw",
    "thinking", "label", "output", "cursor", "bar",
)

CONVERSATION_CSS = """
Conversation {
    background: $surface;
    scrollbar-size-vertical: 1;
    overflow-x: hidden;
    & > .conversation--text { color: $foreground; }
    & > .conversation--user { color: $text-primary; }
    & > .conversation--speaker { color: $text-accent; text-style: bold; }
    & > .conversation--speaker-user { color: $text-primary; text-style: bold; }
    & > .conversation--time { color: $text-muted; }
    & > .conversation--heading { color: $foreground; text-style: bold underline; }
    & > .conversation--bold { color: $foreground; text-style: bold; }
    & > .conversation--code { color: $text-secondary; }
    & > .conversation--quote { color: $text-muted; text-style: italic; }
    & > .conversation--link { color: $text-accent; }
    & > .conversation--dim { color: $text-muted; }
    & > .conversation--tool { color: $text-accent; text-style: bold; }
    & > .conversation--summary { color: $foreground; }
    & > .conversation--agent { color: $text-secondary; }
    & > .conversation--ok { color: $text-success; }
    & > .conversation--error { color: $text-error; text-style: bold; }
    & > .conversation--running { color: $text-warning; }
    & > .conversation--waiting { color: $text-warning; text-style: bold reverse; }
    & > .conversation--denied { color: $text-error; }
    & > .conversation--warning { color: $text-warning; }
    & > .conversation--notice { color: $text-secondary; }
    & > .conversation--raw { color: $text-warning; text-style: italic; }
    & > .conversation--thinking { color: $text-muted; text-style: italic; }
    & > .conversation--label { color: $text-muted; text-style: bold; }
    & > .conversation--output { color: $foreground; }
    & > .conversation--cursor {
        color: $block-cursor-blurred-foreground;
        background: $block-cursor-blurred-background;
    }
    &:focus > .conversation--cursor { color: $block-cursor-foreground; background: $block-cursor-background; }
    & > .conversation--bar { color: $accent; }
}
"""
