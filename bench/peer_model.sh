# Sourced by the bench scripts (needs ROOT): makes sure the MiniLM-geometry peer model (random
# weights) and the peer corpus exist under bench/peers/generated/, made once with the peer kit
# (PEERS_KIT, default ../shared/peers beside the repository: make_model.py). Sets GEN and MODEL.
GEN=$ROOT/bench/peers/generated
MODEL=$GEN/minilm
if [[ ! -f $MODEL/model.safetensors || ! -f $GEN/corpus.jsonl ]]; then
  PEERS_KIT=${PEERS_KIT:-$ROOT/../shared/peers}
  if [[ ! -f $PEERS_KIT/make_model.py ]]; then
    echo "no peer kit at $PEERS_KIT (set PEERS_KIT to the folder holding make_model.py)" >&2
    exit 1
  fi
  dpkg -s python3-numpy >/dev/null 2>&1 || apt-get install -y -qq python3-numpy >/dev/null
  KIT=$(mktemp -d /tmp/ej-peers.XXXXXX)
  cp -r "$PEERS_KIT/." "$KIT/"
  (cd "$KIT" && /usr/bin/python3 make_model.py --preset minilm --out "$MODEL" >/dev/null)
  mkdir -p "$GEN"
  cp "$KIT/generated/corpus.jsonl" "$GEN/"
  rm -rf "$KIT"
fi
