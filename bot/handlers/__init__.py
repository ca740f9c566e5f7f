"""One module per feature of the chat: each answers its command (and its buttons) with replies.

A handler is a class of `bot.handlers.base.Handler`, built once by the chat core from `Services`; its command's
row in `bot.commands.COMMANDS` names it. Adding a feature is one module here and one row in that table.
"""
