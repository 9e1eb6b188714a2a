#!/usr/bin/perl
# Generate expected.json: SpamAssassin's own parse of every corpus line.
#
# Usage: perl sa_expected.pl [DIR] > DIR/expected.json   (DIR defaults to this script's folder)
#
# Each non-comment line of DIR/*.txt is one Received value; the two characters
# "\n" inside a line mark a fold (newline + the whitespace that follows).  For
# each line the script builds a message "Received: <value>", lets SpamAssassin
# parse the message, takes the Received header as SA unfolds it and runs SA's
# parse_received_line on it: undef = unparseable, 0 = skipped (a POP/IMAP fetch
# marker is told apart by its reset of the trusted relays), else a relay.
use strict;
use warnings;

use File::Basename qw(dirname basename);
use File::Spec;
use File::Temp qw(tempdir);
use JSON::PP;
use Mail::SpamAssassin;

my $dir = shift @ARGV // dirname(File::Spec->rel2abs(__FILE__));
my $empty = tempdir(CLEANUP => 1);    # no rules: only the parser is needed

my $sa = Mail::SpamAssassin->new({
  rules_filename      => $empty,
  site_rules_filename => $empty,
  userprefs_filename  => File::Spec->devnull,
  local_tests_only    => 1,
  dont_copy_prefs     => 1,
});

sub parse_one {
  my ($value) = @_;
  (my $folded = $value) =~ s/\\n/\n/g;
  my $msg = $sa->parse("Received: $folded\nSubject: corpus\n\nbody\n", 0);
  my ($header) = $msg->get_header('Received');
  $header = '' unless defined $header;
  $header =~ s/\n[ \t]+/ /gs;    # as parse_received_headers does
  $header =~ s/\n\z//;
  my $md = $msg->{metadata};
  $md->{relays_trusted} = ['sentinel'];
  $md->{allow_mailfetch_markers} = 1;
  my $relay = $md->parse_received_line($header);
  my %out = (unfolded => $header);
  if (!defined $relay) {
    $out{result} = 'unparseable';
  } elsif (!$relay) {
    $out{result} = @{ $md->{relays_trusted} } ? 'skipped' : 'fetch';
  } else {
    $out{result} = 'relay';
    $out{$_} = $relay->{$_} // '' for qw(ip rdns helo by ident envfrom id auth);
  }
  $msg->finish();
  return \%out;
}

my @cases;
for my $file (sort glob(File::Spec->catfile($dir, '*.txt'))) {
  open(my $fh, '<:raw', $file) or die "$file: $!\n";
  my $number = 0;
  while (my $line = <$fh>) {
    $number++;
    $line =~ s/\r?\n\z//;
    next if $line =~ /^\s*(?:#|$)/;
    my $case = parse_one($line);
    $case->{file} = basename($file);
    $case->{line} = $number;
    $case->{value} = $line;
    push @cases, $case;
  }
  close($fh);
}

print JSON::PP->new->ascii->canonical->pretty->encode({
  generator    => 'tests/data/received/sa_expected.pl',
  spamassassin => Mail::SpamAssassin::Version(),
  cases        => \@cases,
});
