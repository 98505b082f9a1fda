# Remote Desktop fixes planned by rdp-doctor host fix. Run as Administrator on the host.
#Requires -RunAsAdministrator
$ErrorActionPreference = 'Stop'

# Backup: every key this script changes, as .reg files (restore with reg import FILE; values this script creates are not in them).
$backup = Join-Path $env:TEMP ('rdp-doctor-backup-' + (Get-Date -Format 'yyyyMMdd-HHmmss'))
New-Item -ItemType Directory -Path $backup -Force | Out-Null
if (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server') { reg export 'HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server' (Join-Path $backup '1.reg') /y | Out-Null; if ($LASTEXITCODE -ne 0) { throw 'reg export failed: HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server' } }
if (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\TermService') { reg export 'HKLM\SYSTEM\CurrentControlSet\Services\TermService' (Join-Path $backup '2.reg') /y | Out-Null; if ($LASTEXITCODE -ne 0) { throw 'reg export failed: HKLM\SYSTEM\CurrentControlSet\Services\TermService' } }
if (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\FirewallRules') { reg export 'HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\FirewallRules' (Join-Path $backup '3.reg') /y | Out-Null; if ($LASTEXITCODE -ne 0) { throw 'reg export failed: HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\FirewallRules' } }
Write-Host "Backup written to $backup"

# HOST001 (HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\fDenyTSConnections): Remote Desktop is turned off (Allow remote connections = off)
# Fix: Allow Remote Desktop connections (fDenyTSConnections=0)
if (-not (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server')) { New-Item -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server' -Force | Out-Null }
New-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server' -Name 'fDenyTSConnections' -PropertyType DWord -Value 0 -Force | Out-Null

# HOST004 (HKLM\SYSTEM\CurrentControlSet\Services\TermService\Start): TermService is disabled
# Fix: Set TermService to start on demand (Start=3, manual), its default
if (-not (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\TermService')) { New-Item -Path 'HKLM:\SYSTEM\CurrentControlSet\Services\TermService' -Force | Out-Null }
New-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\TermService' -Name 'Start' -PropertyType DWord -Value 3 -Force | Out-Null

# HOST006 (HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\FirewallRules): the firewall is on and no active inbound rule allows TCP 3390
# Fix: Add an inbound firewall rule allowing TCP 3390 to TermService
New-NetFirewallRule -Name 'RdpDoctor-RemoteDesktop-In-TCP-3390' -DisplayName 'Remote Desktop (TCP-In, port 3390)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 3390 -Service 'termservice' -Program '%SystemRoot%\system32\svchost.exe'

# HOST007 (HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\MaxOutstandingConnections): only 2 incomplete connections allowed: a few scanners lock everyone out (TermService 1006)
# Fix: Raise MaxOutstandingConnections to 10000
if (-not (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server')) { New-Item -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server' -Force | Out-Null }
New-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server' -Name 'MaxOutstandingConnections' -PropertyType DWord -Value 10000 -Force | Out-Null

Write-Host 'Done. Restart the Remote Desktop Services (Restart-Service TermService -Force) or reboot, then run rdp-doctor diagnose against this host.'
