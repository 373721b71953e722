"""The paper's analysis of a saved run, one job per module.

    options   AnalysisOptions (what is computed), ClaimOptions (how claims are decided)
    compute   per-agent jitted stages → AnalysisResults
    results   AnalysisResults: the typed, versioned content of analysis.npz
    claims    one function per claim of the paper → Claim
    figures   AnalysisResults → Fig 1b–1e, learning curves
    report    summary.json and report.md
    run       analyse_run: the entry point that chains them

`from rnnctl.paper import analyse_run` is all a user needs; each stage can also be called
alone (e.g. claims on a loaded analysis.npz, without recomputing).
"""
from rnnctl.paper.claims import Claim, ClaimContext, evaluate_claims
from rnnctl.paper.compute import compute_analysis, excluded_agents
from rnnctl.paper.figures import FIGURE_FILES, FIGURES_DIR, draw_figures
from rnnctl.paper.options import (DEFAULT_CLAIM_OPTIONS, DEFAULT_OPTIONS, QUICK_OPTIONS,
                                  AnalysisOptions, ClaimOptions, default_stages)
from rnnctl.paper.report import (REPORT_FILE, SUMMARY_FILE, SUMMARY_FORMAT_VERSION,
                                 build_summary, write_report, write_summary)
from rnnctl.paper.results import ANALYSIS_FILE, AnalysisResults, load_analysis
from rnnctl.paper.run import analyse_run, claim_context, last_options
from rnnctl.paper.stage import PipelineError

__all__ = ["analyse_run", "claim_context", "last_options", "compute_analysis", "excluded_agents",
           "evaluate_claims", "Claim", "ClaimContext", "draw_figures", "build_summary",
           "write_report", "write_summary", "load_analysis", "AnalysisResults",
           "AnalysisOptions", "ClaimOptions", "DEFAULT_OPTIONS", "QUICK_OPTIONS",
           "DEFAULT_CLAIM_OPTIONS", "default_stages", "PipelineError", "ANALYSIS_FILE",
           "SUMMARY_FILE", "REPORT_FILE", "SUMMARY_FORMAT_VERSION", "FIGURES_DIR",
           "FIGURE_FILES"]
