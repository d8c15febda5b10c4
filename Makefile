# The two commands of README.md (and test-all, every slow test too).
.PHONY: up test test-all setup interop

up:          ## set up this machine (idempotent) and run the whole cloud in the foreground
	@scripts/setup
	.venv/bin/pocketstack up $(ARGS)

test:        ## set up, then lint, type-check and run the test suite (as CI does)
	@scripts/test $(ARGS)

test-all:    ## as test, with every slow real-guest test (CI runs those marked ci)
	@POCKETSTACK_TEST_ALL=1 scripts/test $(ARGS)

setup:
	@scripts/setup

interop:     ## the OpenStack Interop guideline's required tempest tests against a fresh cloud (README "Interop")
	@scripts/interop $(ARGS)
