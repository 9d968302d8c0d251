"""Where the tests find the repository and the shared public data sets, wherever a test
module sits in the tree."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
#: `../shared/data` beside the checkout: NAB, Loghub, Nezha, upstream wire definitions.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
