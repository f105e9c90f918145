"""The subcommands of `sequencer-net`, one module each."""
