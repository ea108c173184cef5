#!/bin/sh
# Installs Fashion-MNIST (Debian package dataset-fashion-mnist) when it is missing and we can;
# never fails: without it, the demo falls back to scikit-learn's digits and the tests that
# need it skip with the reason.
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "aegan: installing Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    if (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "aegan: Fashion-MNIST not found in $dir; install it with 'sudo apt-get install dataset-fashion-mnist' or put its IDX files in \$AEGAN_DATA. Falling back to scikit-learn's digits."
exit 0
