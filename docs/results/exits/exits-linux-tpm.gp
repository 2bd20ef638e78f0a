set terminal pngcairo size 1100,600
set output '/tmp/fresh/docs/results/exits/exits-linux-tpm.png'
set title 'VM exits the TPM adds to a boot, by reason (KVM statistics, medians): Linux'
set termoption noenhanced
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.7
set key outside right
set ylabel 'VM exits'
set grid ytics
set xtics font ',9'
plot for [k=2:8] '/tmp/fresh/docs/results/exits/exits-linux-tpm.dat' using k:xtic(1) title columnheader(k)
