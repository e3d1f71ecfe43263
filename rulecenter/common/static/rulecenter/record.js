// The record page's print button (the Content Security Policy allows no inline script or javascript: link).
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest("[data-print]")) {
    window.print();
  }
});
