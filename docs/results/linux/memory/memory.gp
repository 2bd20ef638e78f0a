set terminal pngcairo size 900,560
set output 'docs/results/linux/memory/memory.png'
set title 'Monitor memory excluding guest RAM (idle guest)'
set xlabel 'guest RAM (MiB)'
set ylabel 'KiB'
set logscale y
set grid
set key below
set xtics 1024
plot 'docs/results/linux/memory/memory.dat' u 1:2 w lp t 'hearth writable (thesis method)', '' u 1:3 w lp t 'hearth private', '' u 1:4 w lp t 'hearth+TPM private', '' u 1:5 w lp t 'swtpm private', '' u 1:6 w lp t 'qemu writable', '' u 1:7 w lp t 'qemu private'
