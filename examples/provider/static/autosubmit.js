// Submits a page's form marked data-autosubmit (used by the logout re-submission page).
// Served from 'self' so the Content-Security-Policy needs no inline script.
document.addEventListener('DOMContentLoaded', () => {
  const form = document.querySelector('form[data-autosubmit]');
  if (form) form.submit();
});
