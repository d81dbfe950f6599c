# Reproduces the ResNet/SVM ablation study of two source reports end to end (README.md names them). Config:
# config/config.yaml (the default, set by profiles/default) or any file given with --configfile; every key is documented
# in config/README.md.
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, f"{workflow.basedir}/workflow/scripts")
from ablation.study.config import validate_config  # noqa: E402

validate_config(config, source=", ".join(map(str, workflow.configfiles)) or "--config")


report: "report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    dataset="|".join(DATASETS),
    split="|".join(PROTOCOLS),


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/svm.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_targets(),
