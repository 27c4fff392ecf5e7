"""The lab's stand-in: a battery model, a profile runner, a simulated cycler, demo data.

Everything here exists to exercise the product without hardware: `bem simulate` runs a
simulated cycler against a broker, `bem demo` seeds demo data and runs simulated cyclers
in-process. This package may use the product's packages; the product never imports it
(an import-linter contract checks that), except the `bem demo` and `bem simulate` commands.
"""
