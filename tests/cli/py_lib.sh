# Shared by the python/notebook tests (t_python.sh, t_notebook.sh,
# t_corpus_python.sh): the real /usr/bin/python3 and the driver from the
# source tree (an installed one could be stale).
RUNNABLE_PYTHON=/usr/bin/python3
RUNNABLE_PYTHON_DRIVER=$RN_SRCDIR/plugins/python/runnable_task.py
export RUNNABLE_PYTHON RUNNABLE_PYTHON_DRIVER
PYFIX=$RN_SRCDIR/tests/fixtures/python

# require_notebook: notebook tests need nbclient and ipykernel (Debian's
# python3-nbclient python3-ipykernel, installed by scripts/deps.sh).
require_notebook() {
    if ! "$RUNNABLE_PYTHON" -c 'import nbclient, ipykernel' 2>/dev/null; then
        echo "SKIP: $RUNNABLE_PYTHON lacks nbclient/ipykernel (sh scripts/deps.sh)"
        exit 77
    fi
}

# py_workdir NAME: a fresh work folder holding the test module and notebooks
# under examples/common/ (where the corpus pipelines look for them).
py_workdir() {
    workdir "$1"
    mkdir -p examples/common
    cp "$PYFIX"/examples/common/*.py "$PYFIX"/examples/common/*.ipynb examples/common/
}
