set terminal pngcairo size 900,560
set output 'docs/results/linux/concurrent/cdf.png'
set title 'VM boot time (TPM allocation to monitor exit)'
set xlabel 'ms'
set ylabel 'fraction of VMs'
set yrange [0:1]
set grid
set key bottom right
plot 'docs/results/linux/concurrent/cdf-4.dat' using 1:2 with steps lw 2 title 'baseline (run 4)', 'docs/results/linux/concurrent/cdf-5.dat' using 1:2 with steps lw 2 title 'ondemand (run 5)', 'docs/results/linux/concurrent/cdf-6.dat' using 1:2 with steps lw 2 title 'pool (run 6)'
set terminal svg size 900,560
set output 'docs/results/linux/concurrent/cdf.svg'
set title 'VM boot time (TPM allocation to monitor exit)'
set xlabel 'ms'
set ylabel 'fraction of VMs'
set yrange [0:1]
set grid
set key bottom right
plot 'docs/results/linux/concurrent/cdf-4.dat' using 1:2 with steps lw 2 title 'baseline (run 4)', 'docs/results/linux/concurrent/cdf-5.dat' using 1:2 with steps lw 2 title 'ondemand (run 5)', 'docs/results/linux/concurrent/cdf-6.dat' using 1:2 with steps lw 2 title 'pool (run 6)'
