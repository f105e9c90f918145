"""`sequencer-net report`: plots and a page about one cluster run."""
