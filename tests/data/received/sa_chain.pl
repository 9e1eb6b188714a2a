#!/usr/bin/perl
# SpamAssassin's whole-chain parse of one message (read from standard input):
# every relay of relays_trusted + relays_untrusted, newest first, as JSON with
# ip, rdns, helo, by, ident, envfrom, id, auth (text as SA hands it on: UTF-8 octets).
use strict;
use warnings;

use File::Spec;
use File::Temp qw(tempdir);
use JSON::PP;
use Mail::SpamAssassin;
use Mail::SpamAssassin::PerMsgStatus;

my $empty = tempdir(CLEANUP => 1);    # no rules: only the parser is needed
my $sa = Mail::SpamAssassin->new({
  rules_filename      => $empty,
  site_rules_filename => $empty,
  userprefs_filename  => File::Spec->devnull,
  local_tests_only    => 1,
  dont_copy_prefs     => 1,
});
binmode(STDIN);
my $text = do { local $/; <STDIN> };
my $msg = $sa->parse($text, 0);
my $status = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
$msg->extract_message_metadata($status);
my @relays;
for my $relay (@{ $msg->{metadata}->{relays_trusted} }, @{ $msg->{metadata}->{relays_untrusted} }) {
  push @relays, { map { $_ => $relay->{$_} // '' } qw(ip rdns helo by ident envfrom id auth) };
}
$status->finish();
$msg->finish();
print JSON::PP->new->canonical->encode(\@relays);
