#!/bin/sh
# `make demo`: train small autoencoders on Fashion-MNIST (or scikit-learn's digits when it is
# not installed) and write pictures into runs/demo/. A few minutes on a CPU.
set -e
AEGAN=.venv/bin/aegan
OUT=runs/demo
if $AEGAN data fashion-mnist >/dev/null 2>&1; then
    DATA=fashion-mnist; EPOCHS=3; GAN_SAMPLES=20000
else
    DATA=digits; EPOCHS=30; GAN_SAMPLES=1438
fi
echo "== aegan demo on $DATA (pictures in $OUT/) =="
mkdir -p $OUT

echo "-- the reference article's autoencoder (Dense 128 ReLU, code 32, MSE, Adam)"
$AEGAN train ae --preset classic --data $DATA --code-dim 32 --epochs $EPOCHS --out $OUT/classic --overwrite

echo "-- a convolutional autoencoder, code 32"
$AEGAN train ae --arch conv --data $DATA --code-dim 32 --epochs $EPOCHS --out $OUT/conv-ae --overwrite

echo "-- a variational autoencoder with a 2-D code"
$AEGAN train vae --data $DATA --code-dim 2 --epochs $EPOCHS --out $OUT/vae-2d --overwrite

echo "-- a GAN on the 8-Gaussian ring (mode collapse check: samples over the 8 modes)"
$AEGAN train gan --data ring --epochs 10 --batch-size 256 --out $OUT/gan-ring --overwrite --quiet
echo "-- a DCGAN on $DATA (small: $GAN_SAMPLES images, 3 epochs)"
$AEGAN train gan --data $DATA --arch dcgan --max-samples $GAN_SAMPLES --epochs 3 --out $OUT/dcgan --overwrite

echo "-- pictures from the trained runs"
$AEGAN reconstruct $OUT/classic --data $DATA --split test --out $OUT/classic-reconstructions.png --overwrite
$AEGAN reconstruct $OUT/conv-ae --data $DATA --split test --out $OUT/conv-reconstructions.png --overwrite
# Walk the VAE's 2-D code space on a 10 x 10 grid from -2 to 2 and decode every point.
.venv/bin/python -c "import numpy as np; g = np.linspace(-2, 2, 10); np.save('$OUT/grid-codes.npy', np.array([(x, y) for y in g[::-1] for x in g], np.float32))"
$AEGAN decode $OUT/vae-2d --codes $OUT/grid-codes.npy --out $OUT/vae-2d-code-space.png --nrow 10 --overwrite
$AEGAN sample $OUT/dcgan -n 64 --out $OUT/dcgan-samples.png --overwrite
$AEGAN interpolate $OUT/dcgan --steps 8 --out $OUT/dcgan-interpolation.png --overwrite
$AEGAN info $OUT/conv-ae

echo "-- measured: the conv autoencoder (test MSE, PSNR, probes) and the DCGAN (FCD, KID, precision/recall)"
$AEGAN evaluate $OUT/conv-ae --n 2000
if [ "$DATA" = fashion-mnist ]; then
    $AEGAN evaluate $OUT/dcgan --n 2000
fi
echo "-- run reports (self-contained HTML)"
for run in classic conv-ae vae-2d gan-ring dcgan; do
    $AEGAN report $OUT/$run
done
$AEGAN report $OUT/classic $OUT/conv-ae $OUT/vae-2d --out $OUT/autoencoders.html --overwrite
echo "== done: open $OUT/conv-ae/report.html (and each run's report.html, $OUT/autoencoders.html side by side), or the PNGs: $OUT/conv-reconstructions.png, $OUT/vae-2d-code-space.png, $OUT/gan-ring/samples.png, $OUT/dcgan-samples.png =="
