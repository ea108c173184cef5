#!/bin/sh
# `make readme-pictures`: copy the pictures the README shows from the latest `make demo` run
# into docs/images/ (committed), so the README shows what the demo makes today.
set -e
DEMO=runs/demo
for f in "$DEMO/conv-reconstructions.png" "$DEMO/dcgan-samples.png" "$DEMO/vae-2d/latent_map.png" \
         "$DEMO/gan-ring/samples.png" "$DEMO/dcgan/interpolation.png"; do
    if [ ! -f "$f" ]; then
        echo "aegan: $f is missing; run 'make demo' first" >&2
        exit 1
    fi
done
mkdir -p docs/images
cp "$DEMO/conv-reconstructions.png" docs/images/reconstructions.png
cp "$DEMO/dcgan-samples.png" docs/images/dcgan-samples.png
cp "$DEMO/vae-2d/latent_map.png" docs/images/vae-latent-map.png
cp "$DEMO/gan-ring/samples.png" docs/images/ring-samples.png
cp "$DEMO/dcgan/interpolation.png" docs/images/dcgan-interpolation.png
echo "copied the demo's pictures into docs/images/"
