set terminal pngcairo size 900,560
set output 'docs/results/linux/concurrent/cdf.png'
set title 'VM boot time (TPM allocation to monitor exit)'
set xlabel 'ms'
set ylabel 'fraction of VMs'
set yrange [0:1]
set grid
set key bottom right
plot 'docs/results/linux/concurrent/cdf-6.dat' using 1:2 with steps lw 2 title 'baseline (run 6)', 'docs/results/linux/concurrent/cdf-7.dat' using 1:2 with steps lw 2 title 'ondemand (run 7)', 'docs/results/linux/concurrent/cdf-8.dat' using 1:2 with steps lw 2 title 'pool (run 8)', 'docs/results/linux/concurrent/cdf-9.dat' using 1:2 with steps lw 2 title 'qemu (run 9)', 'docs/results/linux/concurrent/cdf-10.dat' using 1:2 with steps lw 2 title 'qemu-tpm (run 10)'
set terminal svg size 900,560
set output 'docs/results/linux/concurrent/cdf.svg'
set title 'VM boot time (TPM allocation to monitor exit)'
set xlabel 'ms'
set ylabel 'fraction of VMs'
set yrange [0:1]
set grid
set key bottom right
plot 'docs/results/linux/concurrent/cdf-6.dat' using 1:2 with steps lw 2 title 'baseline (run 6)', 'docs/results/linux/concurrent/cdf-7.dat' using 1:2 with steps lw 2 title 'ondemand (run 7)', 'docs/results/linux/concurrent/cdf-8.dat' using 1:2 with steps lw 2 title 'pool (run 8)', 'docs/results/linux/concurrent/cdf-9.dat' using 1:2 with steps lw 2 title 'qemu (run 9)', 'docs/results/linux/concurrent/cdf-10.dat' using 1:2 with steps lw 2 title 'qemu-tpm (run 10)'
