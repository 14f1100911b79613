#!/bin/sh
# Fails when a layer includes what it must not know about.
cd "$(dirname "$0")/.." || exit 2
bad=0
check() { # dir pattern what
  if grep -rnE "#include *[<\"]($2)" "$1" --include='*.[ch]'; then
    echo "layering: $1/ must not include $3"; bad=1
  fi
}
check protocol 'lmdb\.h|event2/|index\.h|engine' 'LMDB, libevent, index/ or engine/'
check index 'event2/|msgpack|message\.h|record\.h|engine' 'libevent, msgpack, protocol/ or engine/'
check clients '\.\./\.\./(engine|index)|lmdb\.h|index\.h' 'engine/ or index/'
[ $bad -eq 0 ] && echo "layering: ok"
exit $bad
