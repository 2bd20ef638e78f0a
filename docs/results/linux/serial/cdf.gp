set terminal pngcairo size 900,560
set output 'docs/results/linux/serial/cdf.png'
set title 'VM boot time (TPM allocation to monitor exit)'
set xlabel 'ms'
set ylabel 'fraction of VMs'
set yrange [0:1]
set grid
set key bottom right
plot 'docs/results/linux/serial/cdf-1.dat' using 1:2 with steps lw 2 title 'baseline (run 1)', 'docs/results/linux/serial/cdf-2.dat' using 1:2 with steps lw 2 title 'ondemand (run 2)', 'docs/results/linux/serial/cdf-3.dat' using 1:2 with steps lw 2 title 'pool (run 3)', 'docs/results/linux/serial/cdf-4.dat' using 1:2 with steps lw 2 title 'qemu (run 4)', 'docs/results/linux/serial/cdf-5.dat' using 1:2 with steps lw 2 title 'qemu-tpm (run 5)'
set terminal svg size 900,560
set output 'docs/results/linux/serial/cdf.svg'
set title 'VM boot time (TPM allocation to monitor exit)'
set xlabel 'ms'
set ylabel 'fraction of VMs'
set yrange [0:1]
set grid
set key bottom right
plot 'docs/results/linux/serial/cdf-1.dat' using 1:2 with steps lw 2 title 'baseline (run 1)', 'docs/results/linux/serial/cdf-2.dat' using 1:2 with steps lw 2 title 'ondemand (run 2)', 'docs/results/linux/serial/cdf-3.dat' using 1:2 with steps lw 2 title 'pool (run 3)', 'docs/results/linux/serial/cdf-4.dat' using 1:2 with steps lw 2 title 'qemu (run 4)', 'docs/results/linux/serial/cdf-5.dat' using 1:2 with steps lw 2 title 'qemu-tpm (run 5)'
