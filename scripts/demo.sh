#!/bin/sh
# `make demo`: train small autoencoders on Fashion-MNIST (or scikit-learn's digits when it is
# not installed) and write pictures into runs/demo/. A few minutes on a CPU.
set -e
AEGAN=.venv/bin/aegan
OUT=runs/demo
if $AEGAN data fashion-mnist >/dev/null 2>&1; then
    DATA=fashion-mnist; EPOCHS=3
else
    DATA=digits; EPOCHS=30
fi
echo "== aegan demo on $DATA (pictures in $OUT/) =="
mkdir -p $OUT

echo "-- the reference article's autoencoder (Dense 128 ReLU, code 32, MSE, Adam)"
$AEGAN train ae --preset classic --data $DATA --code-dim 32 --epochs $EPOCHS --out $OUT/classic --overwrite

echo "-- a convolutional autoencoder, code 32"
$AEGAN train ae --arch conv --data $DATA --code-dim 32 --epochs $EPOCHS --out $OUT/conv-ae --overwrite

echo "-- a variational autoencoder with a 2-D code"
$AEGAN train vae --data $DATA --code-dim 2 --epochs $EPOCHS --out $OUT/vae-2d --overwrite

echo "-- pictures from the trained runs"
$AEGAN reconstruct $OUT/classic --data $DATA --split test --out $OUT/classic-reconstructions.png --overwrite
$AEGAN reconstruct $OUT/conv-ae --data $DATA --split test --out $OUT/conv-reconstructions.png --overwrite
# Walk the VAE's 2-D code space on a 10 x 10 grid from -2 to 2 and decode every point.
.venv/bin/python -c "import numpy as np; g = np.linspace(-2, 2, 10); np.save('$OUT/grid-codes.npy', np.array([(x, y) for y in g[::-1] for x in g], np.float32))"
$AEGAN decode $OUT/vae-2d --codes $OUT/grid-codes.npy --out $OUT/vae-2d-code-space.png --nrow 10 --overwrite
$AEGAN info $OUT/conv-ae
echo "== done: open $OUT/conv-reconstructions.png, $OUT/classic-reconstructions.png, $OUT/vae-2d-code-space.png and each run's loss.png =="
